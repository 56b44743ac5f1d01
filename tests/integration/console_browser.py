"""What the console's browser tests share: Debian's chromium through Playwright (failing,
never skipping, without it), a storefront of their own with two analysts, and an analyst's
tab that records every URL it requested."""

from __future__ import annotations

import os
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
except ImportError:  # chromium() fails and says so; never a silent skip
    sync_playwright = None  # type: ignore[assignment]
    Browser = BrowserContext = Page = Any  # type: ignore[misc,assignment]
    expect = None  # type: ignore[assignment]

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "build" / "test-artifacts" / "console"
CHROMIUM = Path(os.environ.get("CONSOLE_CHROMIUM", "/usr/bin/chromium"))
WAIT_MS = 30_000  # slow machines: generous, and only ever a ceiling


def chromium() -> Iterator[Browser]:
    """Headless chromium for a module's tests (its `browser` fixture yields from this)."""
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


def new_console(browser: Browser, base_url: str) -> Iterator[Console]:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    yield Console(context, base_url)
    context.close()


def real_errors(console: Console) -> list[str]:
    # The browser logs every non-2xx fetch as an error; the page handles those itself.
    return [e for e in console.errors if "Failed to load resource" not in e]


def open_count(page: Page) -> Any:
    return page.get_by_test_id("open-count")


def case_page(console: Console, key: str, order_id: str) -> Page:
    page = console.sign_in(key)
    expect(page.locator("h1")).to_have_text("Review queue")
    page.goto(f"{console.base_url}/console/#/case/{order_id}")
    expect(page.get_by_test_id("case")).to_have_attribute("data-order", order_id)
    return page
