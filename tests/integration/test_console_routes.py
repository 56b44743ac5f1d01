"""The console's pages for claims, lists, risk settings, closed cases and the team's
stats, in headless Chromium against the local stack."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from cashback_tools.local.stack import LocalStack

from .client import unique
from .console_browser import Browser, Console, Desk, case_page, chromium, expect, new_console


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from chromium()


@pytest.fixture
def desk(stack: LocalStack) -> Desk:
    return Desk(stack)


@pytest.fixture
def console(browser: Browser, stack: LocalStack) -> Iterator[Console]:
    yield from new_console(browser, stack.url)


@pytest.fixture
def second_console(browser: Browser, stack: LocalStack) -> Iterator[Console]:
    yield from new_console(browser, stack.url)


# -- claims ----------------------------------------------------------------------------


def test_a_claim_conflict_between_two_analysts(
    console: Console, second_console: Console, desk: Desk
) -> None:
    order = desk.held()[0]["order_id"]
    first = case_page(console, desk.key, order)
    expect(first.get_by_test_id("claimed-by-me")).to_be_visible()
    second = case_page(second_console, desk.other_key, order)
    expect(second.get_by_test_id("claimed-by-other")).to_have_text(re.compile("Claimed by"))
    expect(second.locator("#approve")).to_be_disabled()
    second_console.shot("claim-conflict")
    # The second analyst takes it over, with a reason; the first one's decision is refused.
    second.locator("#take-over-reason").fill("first analyst is off shift")
    second.locator("#take-over").click()
    expect(second.get_by_test_id("claimed-by-me")).to_be_visible()
    first.locator("#approve").click()
    expect(first.get_by_test_id("claimed-by-other")).to_be_visible()
    expect(first.get_by_test_id("decision-error")).to_be_visible()
    assert desk.analyst.get(f"/v1/reviews/{order}").json()["case_status"] == "open"
    second.locator("#reject").click()
    expect(second.get_by_test_id("case")).not_to_have_attribute("data-order", order)
    assert desk.analyst.get(f"/v1/reviews/{order}").json()["status"] == "rejected"


# -- lists, settings, team -------------------------------------------------------------


def test_lists_add_show_audit_and_remove_an_entry(console: Console, desk: Desk) -> None:
    page = console.sign_in(desk.key)
    expect(page.locator("h1")).to_have_text("Review queue")
    page.locator("a[data-page=lists]").click()
    expect(page.locator("h1")).to_have_text("Lists")
    customer = unique("watched")
    page.locator("#list-kind").select_option("watch_customer")
    page.locator("#list-value").fill(customer)
    page.locator("#list-reason").fill("shares a device with a refund ring")
    page.locator("#list-add button[type=submit]").click()
    entry = page.locator(f"[data-testid=list-entries] tr[data-value='{customer}']")
    expect(entry).to_contain_text("shares a device with a refund ring")
    expect(page.get_by_test_id("list-audit")).to_contain_text(customer)
    console.shot("lists")
    entry.locator("button.remove").click()
    expect(entry).to_have_count(0)
    audit = page.get_by_test_id("list-audit").locator("tr", has_text=customer)
    expect(audit).to_have_count(2)  # put, then delete


def test_switching_to_enforce_shows_the_backtest_before_saving(
    console: Console, desk: Desk
) -> None:
    page = console.sign_in(desk.key)
    expect(page.locator("h1")).to_have_text("Review queue")
    page.locator("a[data-page=settings]").click()
    expect(page.locator("h1")).to_have_text("Risk settings")
    expect(page.get_by_test_id("settings-current")).to_be_visible()
    page.locator("#risk-mode").select_option("shadow")
    page.locator("#save-settings").click()
    expect(page.get_by_test_id("settings-current")).to_contain_text("shadow")
    page.locator("#risk-mode").select_option("enforce")
    expect(page.locator("#save-settings")).to_be_disabled()
    expect(page.get_by_test_id("save-hint")).to_contain_text("backtest")
    page.locator("#run-backtest").click()
    expect(page.get_by_test_id("backtest")).to_contain_text("held for review")
    expect(page.locator("#save-settings")).to_be_enabled()
    console.shot("settings-backtest")
    page.locator("#save-settings").click()
    expect(page.get_by_test_id("settings-current")).to_contain_text("enforce")
    assert desk.analyst.get("/v1/risk/settings").json()["mode"] == "enforce"


def test_team_view_and_closed_cases(console: Console, desk: Desk) -> None:
    held = desk.held()
    decided = desk.analyst.post(
        f"/v1/reviews/{held[0]['order_id']}/decision", json={"decision": "approve"}
    )
    assert decided.ok, decided.text
    page = console.sign_in(desk.key)
    expect(page.locator("h1")).to_have_text("Review queue")
    page.locator("#status-filter").select_option("approved")
    expect(page.locator(f"tr[data-order='{held[0]['order_id']}']")).to_be_visible()
    page.locator("a[data-page=team]").click()
    expect(page.locator("h1")).to_have_text("Team")
    expect(page.get_by_test_id("team-open")).to_have_text(str(len(held) - 1))
    expect(page.get_by_test_id("team-decided")).to_have_text("1")
    expect(page.get_by_test_id("by-analyst")).to_contain_text("1")
    console.shot("team")


# -- the case file ---------------------------------------------------------------------


def test_the_case_file_shows_features_earlier_cases_linked_accounts_and_notes(
    console: Console, desk: Desk
) -> None:
    device = unique("shared-dev")
    mine = [
        desk.shop.purchase(customer, 30000 + 1000 * i, device_id=device).json()
        for customer in [unique("me")]
        for i in range(8)
    ]
    held = [reply for reply in mine if reply["status"] == "held"]
    assert len(held) >= 2, mine
    other = unique("them")
    desk.shop.purchase(other, 12000, device_id=device)
    page = case_page(console, desk.key, held[0]["order_id"])
    features = page.get_by_test_id("features")
    expect(features).to_contain_text("orders_24h_log1p")
    expect(features).to_contain_text("too few purchases to compare")  # a new storefront
    expect(page.get_by_test_id("earlier-cases")).to_contain_text(held[1]["order_id"])
    expect(page.get_by_test_id("linked")).to_contain_text(f"{other} via device")
    page.locator("#note-text").fill("asked the bank about the card")
    page.locator("#add-note").click()
    expect(page.get_by_test_id("notes")).to_contain_text("asked the bank about the card")
    console.shot("case-file")
    notes = desk.analyst.get(f"/v1/reviews/{held[0]['order_id']}").json()["notes"]
    assert [n["text"] for n in notes] == ["asked the bank about the card"]
