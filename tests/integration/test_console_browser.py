"""The analysts' console in headless Chromium (Debian's chromium driven by Playwright's
Python client) against the local stack over real HTTP: sign-in, and working a queue the
test creates. Screenshots are kept in build/test-artifacts/console/. Every wait is on page
state (Playwright's expect), never a sleep."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from cashback_tools.local.stack import LocalStack

from .client import unique
from .console_browser import (
    ARTIFACTS,
    Browser,
    Console,
    Desk,
    chromium,
    expect,
    new_console,
    open_count,
    real_errors,
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from chromium()


@pytest.fixture
def desk(stack: LocalStack) -> Desk:
    return Desk(stack)


@pytest.fixture
def console(browser: Browser, stack: LocalStack) -> Iterator[Console]:
    yield from new_console(browser, stack.url)


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
    assert not real_errors(console)


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
    assert not real_errors(console)


# -- the queue -------------------------------------------------------------------------


def test_an_analyst_works_the_queue_from_the_keyboard(console: Console, desk: Desk) -> None:
    held = desk.held()
    page = console.sign_in(desk.key)
    rows = page.locator("[data-testid=queue] tbody tr")
    expect(rows).to_have_count(len(held))
    expect(open_count(page)).to_have_text(str(len(held)))
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
    expect(open_count(page)).to_have_text(str(len(held) - 2))
    expect(rows).to_have_count(len(held) - 2)
    orders = {rows.nth(i).get_attribute("data-order") for i in range(len(held) - 2)}
    assert not orders & {first, second}
    console.shot("queue-after-decisions")
    assert not real_errors(console)


def test_the_last_decision_leaves_an_empty_queue(console: Console, desk: Desk) -> None:
    held = desk.held()
    for case in held[1:]:
        assert desk.analyst.post(
            f"/v1/reviews/{case['order_id']}/decision", json={"decision": "approve"}
        ).ok
    page = console.sign_in(desk.key)
    expect(open_count(page)).to_have_text("1")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("case")).to_have_attribute("data-order", held[0]["order_id"])
    page.locator("#approve").click()
    expect(page.get_by_test_id("empty")).to_be_visible()
    expect(open_count(page)).to_have_text("0")


def test_counts_are_live_while_another_analyst_decides(console: Console, desk: Desk) -> None:
    held = desk.held()
    page = console.sign_in(desk.key)
    expect(open_count(page)).to_have_text(str(len(held)))
    elsewhere = desk.analyst.post(
        f"/v1/reviews/{held[0]['order_id']}/decision", json={"decision": "reject"}
    )
    assert elsewhere.ok, elsewhere.text
    # No reload: the page refreshes its counts and rows every few seconds.
    expect(open_count(page)).to_have_text(str(len(held) - 1))
    expect(page.locator(f"tr[data-order='{held[0]['order_id']}']")).to_have_count(0)


def test_help_lists_the_shortcuts(console: Console, desk: Desk) -> None:
    page = console.sign_in(desk.key)
    expect(page.locator("h1")).to_have_text("Review queue")
    page.keyboard.press("?")
    expect(page.locator("#help")).to_be_visible()
    expect(page.locator("#help dl")).to_contain_text("next / previous case")
    page.keyboard.press("Escape")
    expect(page.locator("#help")).to_be_hidden()


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
