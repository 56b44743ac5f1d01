"""The console against issue 11's HTTP contract, before every route of it is served: the
browser answers those routes itself (Playwright's page.route) with the contract's shapes,
the rest comes from the local stack. This checks what the page sends and shows (claims and
take-over, notes, features, linked accounts, stats, lists, settings) whatever the review
API serves today."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from cashback_tools.local.stack import LocalStack

from .console_browser import (
    Browser,
    Console,
    Desk,
    case_page,
    chromium,
    expect,
    new_console,
    open_count,
)

UNTIL = "2026-11-30T12:30:00Z"
Handler = Callable[[str, dict[str, Any] | None], tuple[int, Any]]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from chromium()


@pytest.fixture
def desk(stack: LocalStack) -> Desk:
    return Desk(stack)


@pytest.fixture
def console(browser: Browser, stack: LocalStack) -> Iterator[Console]:
    yield from new_console(browser, stack.url)


def answer(console: Console, pattern: str, handler: Handler) -> list[dict[str, Any]]:
    """Answer requests whose URL matches `pattern` with handler(method, body) -> (status,
    JSON); returns what the page sent, one {method, url, body} per request."""
    sent: list[dict[str, Any]] = []

    def fulfil(route: Any) -> None:
        request = route.request
        body = json.loads(request.post_data) if request.post_data else None
        sent.append({"method": request.method, "url": request.url, "body": body})
        status, reply = handler(request.method, body)
        text = "" if reply is None else json.dumps(reply)
        route.fulfill(status=status, body=text, content_type="application/json")

    console.context.route(re.compile(pattern), fulfil)
    return sent


def test_a_case_as_the_contract_shows_it_and_a_take_over(console: Console, desk: Desk) -> None:
    order = desk.held()[0]["order_id"]
    real = desk.analyst.get(f"/v1/reviews/{order}").json()
    case = {
        **real,
        "state": "open",
        "claim": None,
        "notes": [{"note_id": "n1", "by": "cbk_other", "at": UNTIL, "text": "seen before"}],
        "features": [
            {"name": "orders_24h", "value": 8, "percentile": 99.2},
            {"name": "amount", "value": 30000, "percentile": None},
        ],
        "linked": [
            {
                "customer_id": "cust-twin",
                "via": "device",
                "cases": [{"order_id": "o-twin", "state": "rejected", "score": 0.71}],
            }
        ],
    }
    answer(console, rf"/v1/reviews/{order}$", lambda method, body: (200, case))

    def claim(method: str, body: dict[str, Any] | None) -> tuple[int, Any]:
        if body and body.get("take_over"):
            return 200, {"order_id": order, "claim": {"by": "cbk_me", "until": UNTIL}}
        details = {"by": "cbk_other", "until": UNTIL}
        return 409, {"code": "case_claimed", "message": "claimed", "details": details}

    claims = answer(console, rf"/v1/reviews/{order}/claim$", claim)
    note = {"note_id": "n2", "by": "cbk_me", "at": UNTIL, "text": "asked the storefront"}
    answer(console, rf"/v1/reviews/{order}/notes$", lambda method, body: (201, note))
    decision = {"order_id": order, "decision": "reject", "status": "rejected", "cashback": 1}
    decisions = answer(console, rf"/v1/reviews/{order}/decision$", lambda m, b: (200, decision))

    page = case_page(console, desk.key, order)
    expect(page.get_by_test_id("claimed-by-other")).to_contain_text("cbk_other")
    expect(page.locator("#approve")).to_be_disabled()
    expect(page.get_by_test_id("features")).to_contain_text("99th")
    expect(page.get_by_test_id("features")).to_contain_text("too few purchases to compare")
    expect(page.get_by_test_id("linked")).to_contain_text("cust-twin")
    expect(page.get_by_test_id("notes")).to_contain_text("seen before")
    page.locator("#take-over-reason").fill("cbk_other is on leave")
    page.locator("#take-over").click()
    expect(page.get_by_test_id("claimed-by-me")).to_contain_text("cbk_me")
    assert claims[-1]["body"] == {"take_over": True, "reason": "cbk_other is on leave"}
    assert claims[0]["body"] == {"take_over": False, "reason": ""}
    page.locator("#note-text").fill("asked the storefront")
    page.locator("#add-note").click()
    expect(page.get_by_test_id("notes")).to_contain_text("asked the storefront")
    console.shot("contract-case")
    page.locator("#close-reason").select_option("account_farming")
    page.locator("#customer-list").select_option("deny_customer")
    page.locator("#reject").click()
    expect(page.get_by_test_id("case")).not_to_have_attribute("data-order", order)
    assert decisions[0]["body"] == {
        "decision": "reject",
        "reason": "account_farming",
        "customer_list": "deny_customer",
    }


STATS = {
    "open": 12,
    "claimed": 3,
    "oldest_open_at": "2026-11-30T09:00:00Z",
    "oldest_age_seconds": 7200,
    "days": 30,
    "decided": 40,
    "approved": 30,
    "rejected": 10,
    "approval_rate": "0.75",
    "by_analyst": [
        {"analyst": "cbk_ana", "approved": 20, "rejected": 4},
        {"analyst": "cbk_bruno", "approved": 10, "rejected": 6},
    ],
}


def test_counts_and_team_from_the_stats(console: Console, desk: Desk) -> None:
    answer(console, r"/v1/review-stats$", lambda method, body: (200, STATS))
    page = console.sign_in(desk.key)
    expect(open_count(page)).to_have_text("12")
    expect(page.get_by_test_id("claimed-count")).to_have_text("3")
    expect(page.get_by_test_id("oldest-age")).to_have_text("2h")
    page.locator("a[data-page=team]").click()
    expect(page.get_by_test_id("team-approval-rate")).to_have_text("75.0%")
    expect(page.get_by_test_id("by-analyst").locator("tbody tr")).to_have_count(2)
    expect(page.get_by_test_id("by-analyst")).to_contain_text("cbk_bruno")
    console.shot("contract-team")


def test_lists_as_the_contract_has_them(console: Console, desk: Desk) -> None:
    entries: dict[tuple[str, str], dict[str, Any]] = {}
    audit: list[dict[str, Any]] = []

    def lists(method: str, body: dict[str, Any] | None) -> tuple[int, Any]:
        return 200, {"items": list(entries.values()), "next_cursor": None}

    def entry(method: str, body: dict[str, Any] | None) -> tuple[int, Any]:
        kind, value = sent[-1]["url"].split("/v1/lists/")[1].split("/")
        if method == "DELETE":
            gone = entries.pop((kind, value))
            audit.append({**gone, "action": "delete"})
            return 204, None
        assert body is not None
        put = {"kind": kind, "value": value, "by": "cbk_me", "at": UNTIL, **body}
        entries[(kind, value)] = {"expires_at": None, **put}
        audit.append({"action": "put", "expires_at": None, **put})
        return 200, entries[(kind, value)]

    answer(console, r"/v1/lists(\?|$)", lists)
    answer(
        console, r"/v1/lists/audit(\?|$)", lambda m, b: (200, {"items": audit, "next_cursor": None})
    )
    sent = answer(console, r"/v1/lists/[a-z_]+/[^/?]+$", entry)
    page = console.sign_in(desk.key)
    page.locator("a[data-page=lists]").click()
    expect(page.get_by_test_id("list-empty")).to_be_visible()
    page.locator("#list-kind").select_option("deny_device")
    page.locator("#list-value").fill("dev-ring-7")
    page.locator("#list-reason").fill("refund ring")
    page.locator("#list-expires").fill("2026-12-31T23:59")
    page.locator("#list-add button[type=submit]").click()
    row = page.locator("[data-testid=list-entries] tr[data-value='dev-ring-7']")
    expect(row).to_contain_text("refund ring")
    assert sent[0]["method"] == "PUT" and sent[0]["url"].endswith(
        "/v1/lists/deny_device/dev-ring-7"
    )
    assert sent[0]["body"] == {"reason": "refund ring", "expires_at": "2026-12-31T23:59:00Z"}
    row.locator("button.remove").click()
    expect(row).to_have_count(0)
    expect(page.get_by_test_id("list-audit").locator("tbody tr")).to_have_count(2)


def test_settings_show_the_backtest_before_enforce(console: Console, desk: Desk) -> None:
    thresholds = {"review": 0.61, "block": 0.7, "from": "storefront", "purchases": 900, "days": 30}
    settings = {
        "mode": "shadow",
        "review_share": "0.02",
        "block_share": "0.002",
        "thresholds": thresholds,
        "model_version": "refund-abuse-test",
    }
    backtest = {
        "days": 30,
        "purchases": 900,
        "thresholds": thresholds,
        "held": {"count": 18, "cashback": 25000},
        "blocked": {"count": 2, "cashback": 900},
        "allowed": {"count": 880, "cashback": 400000},
    }

    def saved(method: str, body: dict[str, Any] | None) -> tuple[int, Any]:
        if method == "GET":
            return 200, settings
        assert body is not None
        settings.update(body)
        return 200, {**settings, "backtest": backtest}

    puts = answer(console, r"/v1/risk/settings$", saved)
    tests = answer(console, r"/v1/risk/backtest$", lambda m, b: (200, backtest))
    page = console.sign_in(desk.key)
    page.locator("a[data-page=settings]").click()
    expect(page.get_by_test_id("settings-current")).to_contain_text("refund-abuse-test")
    page.locator("#risk-mode").select_option("enforce")
    expect(page.locator("#save-settings")).to_be_disabled()
    page.locator("#run-backtest").click()
    expect(page.get_by_test_id("backtest")).to_contain_text("250.00")
    expect(page.locator("#save-settings")).to_be_enabled()
    assert tests[0]["body"] == {"mode": "enforce", "review_share": "0.02", "block_share": "0.002"}
    page.locator("#review-share").fill("0.03")
    expect(page.locator("#save-settings")).to_be_disabled()  # a new value, a new backtest
    page.locator("#run-backtest").click()
    expect(page.locator("#save-settings")).to_be_enabled()
    page.locator("#save-settings").click()
    expect(page.get_by_test_id("settings-current")).to_contain_text("enforce")
    assert [p["body"] for p in puts if p["method"] == "PUT"] == [
        {"mode": "enforce", "review_share": "0.03", "block_share": "0.002"}
    ]
    console.shot("contract-settings")
