"""The analysts' console in headless Chromium (Debian's chromium driven by Playwright's
Python client) against the local stack over real HTTP: sign-in, working a queue the test
creates, a claim conflict between two analysts, lists, risk settings and the team view.

Routes the review API does not serve yet must show a clear "not available" state; once
they are served the same tests check the real behaviour. Screenshots are kept in
build/test-artifacts/console/. Every wait is on page state (Playwright's expect), never a
sleep."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cashback.domain.tenants import TenantSettings
from cashback.services import keys
from cashback_tools.local.stack import LocalStack

from .client import Api, now_iso, unique

try:
    from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright
except ImportError:  # the test below fails and says so; never a silent skip
    sync_playwright = None  # type: ignore[assignment]

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "build" / "test-artifacts" / "console"
CHROMIUM = Path(os.environ.get("CONSOLE_CHROMIUM", "/usr/bin/chromium"))
WAIT_MS = 30_000  # slow machines: generous, and only ever a ceiling


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if sync_playwright is None:
        pytest.fail(
            "the console's browser tests need Playwright's Python client: run `make setup` "
            "(it installs playwright from constraints.txt)"
        )
    if not CHROMIUM.exists():
        pytest.fail(
            f"no browser for the console's tests: {CHROMIUM} is missing. Run `make browser` "
            "(apt-get install -y chromium) or set CONSOLE_CHROMIUM to a Chromium binary."
        )
    expect.set_options(timeout=WAIT_MS)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield launched
        launched.close()


class Desk:
    """An enforcing storefront of its own, its storefront key and two analysts' keys."""

    def __init__(self, stack: LocalStack) -> None:
        assert stack.store is not None
        self.stack = stack
        self.tenant = unique("console")
        made = stack.add_tenant(self.tenant, TenantSettings(currency="BRL"), now_iso())
        self.shop = Api(stack.url, made["storefront"])
        self.storefront_key = made["storefront"]
        self.key = made["review"]
        self.other_key = keys.create_key(stack.store, self.tenant, ["review"], now_iso())
        self.analyst = Api(stack.url, self.key)

    def held(self, orders: int = 8) -> list[dict[str, Any]]:
        """A burst of purchases by one new customer: the model holds most of them."""
        customer = unique("burst")
        replies = [
            self.shop.purchase(customer, 30000 + 1000 * i, device_id=unique("dev")).json()
            for i in range(orders)
        ]
        held = [reply for reply in replies if reply["status"] == "held"]
        assert len(held) >= 3, f"the burst should have been held: {replies}"
        return held

    def serves(self, method: str, path: str, body: Any = None) -> bool:
        """Whether the review API serves a route yet (403/404 route_not_found: not yet)."""
        reply = self.analyst.session.request(method, self.stack.url + path, json=body, timeout=30)
        code = reply.json().get("code") if reply.content else None
        return not (reply.status_code == 403 or code == "route_not_found")


@pytest.fixture
def desk(stack: LocalStack) -> Desk:
    return Desk(stack)


class Console:
    """One analyst's tab: the page, and every request URL it sent (the key must be in
    none of them)."""

    def __init__(self, context: BrowserContext, base_url: str) -> None:
        self.context = context
        self.page: Page = context.new_page()
        self.base_url = base_url
        self.urls: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", lambda request: self.urls.append(request.url))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on(
            "console",
            lambda message: self.errors.append(message.text) if message.type == "error" else None,
        )

    def open(self) -> Page:
        self.page.goto(f"{self.base_url}/console/")
        return self.page

    def sign_in(self, key: str) -> Page:
        page = self.open()
        page.locator("#key").fill(key)
        page.locator("#sign-in").click()
        return page

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    def storage(self) -> dict[str, str]:
        return self.page.evaluate("() => Object.fromEntries(Object.entries(sessionStorage))")  # type: ignore[no-any-return]


@pytest.fixture
def console(browser: Browser, stack: LocalStack) -> Iterator[Console]:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    yield Console(context, stack.url)
    context.close()


@pytest.fixture
def second_console(browser: Browser, stack: LocalStack) -> Iterator[Console]:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    yield Console(context, stack.url)
    context.close()


def _real_errors(console: Console) -> list[str]:
    # The browser logs every non-2xx fetch as an error; the page handles those itself.
    return [e for e in console.errors if "Failed to load resource" not in e]


# -- sign-in ---------------------------------------------------------------------------


def test_a_wrong_key_is_refused_with_a_clear_message(console: Console, desk: Desk) -> None:
    page = console.sign_in("cbk_not_a_real_key_000000000000")
    expect(page.locator("#sign-in-message")).to_have_text(re.compile("not accepted"))
    assert console.storage() == {}
    page.locator("#key").fill(desk.storefront_key)
    page.locator("#sign-in").click()
    expect(page.locator("#sign-in-message")).to_have_text(re.compile("review scope"))
    console.shot("sign-in-refused")
    assert console.storage() == {}
    assert not _real_errors(console)


def test_the_key_is_kept_for_the_session_only_and_never_in_a_url(
    console: Console, desk: Desk
) -> None:
    page = console.sign_in(desk.key)
    expect(page.locator("h1")).to_have_text("Review queue")
    assert desk.key in console.storage().values()
    page.locator("a[data-page=team]").click()
    expect(page.locator("h1")).to_have_text("Team")
    assert console.urls and not [url for url in console.urls if desk.key in url]
    assert desk.key not in page.url
    page.locator("#sign-out").click()
    expect(page.locator("#sign-in-message")).to_have_text(re.compile("Signed out"))
    assert console.storage() == {}
    # A new tab of the same browser starts signed out: sessionStorage is per tab.
    other = console.context.new_page()
    other.goto(f"{console.base_url}/console/")
    expect(other.locator("#key")).to_be_visible()
    assert not _real_errors(console)


# -- the queue -------------------------------------------------------------------------


def _open_count(page: Page) -> Any:
    return page.get_by_test_id("open-count")


def test_an_analyst_works_the_queue_from_the_keyboard(console: Console, desk: Desk) -> None:
    held = desk.held()
    page = console.sign_in(desk.key)
    rows = page.locator("[data-testid=queue] tbody tr")
    expect(rows).to_have_count(len(held))
    expect(_open_count(page)).to_have_text(str(len(held)))
    expect(page.locator("[data-testid=claimed-by]").first).to_be_visible()
    console.shot("queue")

    # j/k move the selection; Enter opens the selected case.
    expect(rows.nth(0)).to_have_attribute("aria-selected", "true")
    page.keyboard.press("j")
    expect(rows.nth(1)).to_have_attribute("aria-selected", "true")
    page.keyboard.press("k")
    expect(rows.nth(0)).to_have_attribute("aria-selected", "true")
    first = rows.nth(0).get_attribute("data-order")
    second = rows.nth(1).get_attribute("data-order")
    page.keyboard.press("Enter")
    case = page.get_by_test_id("case")
    expect(case).to_have_attribute("data-order", str(first))
    expect(page.get_by_test_id("reasons").locator("li").first).to_be_visible()
    expect(page.get_by_test_id("timeline")).to_be_visible()
    console.shot("case")

    # a approves, and the console moves to the next case of the queue.
    page.keyboard.press("a")
    expect(case).to_have_attribute("data-order", str(second))
    approved = desk.analyst.get(f"/v1/reviews/{first}").json()
    assert approved["decision"]["decision"] == "approve"

    # A reject with a close reason and a note, from the form; then on to the next case.
    page.locator("#close-reason").select_option("refund_abuse")
    page.locator("#decision-note").fill("same device as a refund ring")
    page.locator("#reject").click()
    expect(case).not_to_have_attribute("data-order", str(second))
    rejected = desk.analyst.get(f"/v1/reviews/{second}").json()
    assert rejected["status"] == "rejected"
    assert rejected["decision"]["reason"] == "refund_abuse"
    assert rejected["decision"]["note"] == "same device as a refund ring"

    # Back on the queue (Esc) the counts and rows no longer hold the two decided cases.
    page.keyboard.press("Escape")
    expect(_open_count(page)).to_have_text(str(len(held) - 2))
    expect(rows).to_have_count(len(held) - 2)
    orders = {rows.nth(i).get_attribute("data-order") for i in range(len(held) - 2)}
    assert not orders & {first, second}
    console.shot("queue-after-decisions")
    assert not _real_errors(console)


def test_the_last_decision_leaves_an_empty_queue(console: Console, desk: Desk) -> None:
    held = desk.held()
    for case in held[1:]:
        assert desk.analyst.post(
            f"/v1/reviews/{case['order_id']}/decision", json={"decision": "approve"}
        ).ok
    page = console.sign_in(desk.key)
    expect(_open_count(page)).to_have_text("1")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("case")).to_have_attribute("data-order", held[0]["order_id"])
    page.locator("#approve").click()
    expect(page.get_by_test_id("empty")).to_be_visible()
    expect(_open_count(page)).to_have_text("0")


def test_counts_are_live_while_another_analyst_decides(console: Console, desk: Desk) -> None:
    held = desk.held()
    page = console.sign_in(desk.key)
    expect(_open_count(page)).to_have_text(str(len(held)))
    elsewhere = desk.analyst.post(
        f"/v1/reviews/{held[0]['order_id']}/decision", json={"decision": "reject"}
    )
    assert elsewhere.ok, elsewhere.text
    # No reload: the page refreshes its counts and rows every few seconds.
    expect(_open_count(page)).to_have_text(str(len(held) - 1))
    expect(page.locator(f"tr[data-order='{held[0]['order_id']}']")).to_have_count(0)


def test_help_lists_the_shortcuts(console: Console, desk: Desk) -> None:
    page = console.sign_in(desk.key)
    expect(page.locator("h1")).to_have_text("Review queue")
    page.keyboard.press("?")
    expect(page.locator("#help")).to_be_visible()
    expect(page.locator("#help dl")).to_contain_text("next / previous case")
    page.keyboard.press("Escape")
    expect(page.locator("#help")).to_be_hidden()


# -- claims ----------------------------------------------------------------------------


def _case_page(console: Console, key: str, order_id: str) -> Page:
    page = console.sign_in(key)
    expect(page.locator("h1")).to_have_text("Review queue")
    page.goto(f"{console.base_url}/console/#/case/{order_id}")
    expect(page.get_by_test_id("case")).to_have_attribute("data-order", order_id)
    return page


def test_a_claim_conflict_between_two_analysts(
    console: Console, second_console: Console, desk: Desk
) -> None:
    order = desk.held()[0]["order_id"]
    claims = desk.serves("POST", f"/v1/reviews/{unique('none')}/claim", {"take_over": False})
    first = _case_page(console, desk.key, order)
    if not claims:  # before the lead's claims land: said plainly, decisions still work
        expect(first.get_by_test_id("claim")).to_have_text(re.compile("Claims: not available"))
        expect(first.locator("#approve")).to_be_enabled()
        console.shot("claims-not-available")
        return
    expect(first.get_by_test_id("claimed-by-me")).to_be_visible()
    second = _case_page(second_console, desk.other_key, order)
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
    if not desk.serves("GET", "/v1/lists"):
        expect(page.locator("[data-state=unavailable]").first).to_have_text(
            re.compile("Lists: not available")
        )
        console.shot("lists-not-available")
        return
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
    if not desk.serves("GET", "/v1/risk/settings"):
        expect(page.locator("[data-state=unavailable]")).to_have_text(
            re.compile("Risk settings: not available")
        )
        console.shot("settings-not-available")
        return
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
    if (
        desk.serves("GET", "/v1/reviews?status=approved")
        and desk.analyst.get("/v1/reviews", params={"status": "approved"}).ok
    ):
        expect(page.locator(f"tr[data-order='{held[0]['order_id']}']")).to_be_visible()
    else:
        expect(page.locator("[data-state=unavailable]")).to_have_text(
            re.compile("status approved: not available")
        )
    page.locator("a[data-page=team]").click()
    expect(page.locator("h1")).to_have_text("Team")
    stats = desk.analyst.get("/v1/reviews/stats")
    if stats.status_code != 200 or "open" not in stats.json():
        expect(page.locator("[data-state=unavailable]")).to_have_text(
            re.compile("Team statistics: not available")
        )
        console.shot("team-not-available")
        return
    expect(page.get_by_test_id("team-open")).to_have_text(str(len(held) - 1))
    expect(page.get_by_test_id("team-decided")).to_have_text("1")
    expect(page.get_by_test_id("by-analyst")).to_contain_text("1")
    console.shot("team")


def test_a_busy_queue_for_the_readme(console: Console, desk: Desk) -> None:
    """Three customers' bursts, as the demo's refund rings make them: the README's
    docs/console.png is this test's queue-busy.png."""
    held = []
    for orders, base in ((8, 18990), (6, 42990), (5, 9990)):
        customer = unique("cust")
        for i in range(orders):
            reply = desk.shop.purchase(customer, base + 1370 * i, device_id=unique("dev"))
            held += [reply.json()] if reply.json()["status"] == "held" else []
    page = console.sign_in(desk.key)
    expect(page.locator("[data-testid=queue] tbody tr")).to_have_count(len(held))
    page.keyboard.press("j")
    page.keyboard.press("j")
    expect(page.locator("[data-testid=queue] tbody tr").nth(2)).to_have_attribute(
        "aria-selected", "true"
    )
    page.screenshot(path=str(ARTIFACTS / "queue-busy.png"))
