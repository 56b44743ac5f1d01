"""`make demo`: a storefront's month through the local stack, over HTTP, and what happened.

Uses only the standard library's HTTP client, like any storefront back end would use its own.
"""

from __future__ import annotations

import contextlib
import json
import random
import signal
import threading
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cashback.domain.clock import to_iso
from cashback.domain.currencies import MINOR_UNITS
from cashback.domain.tenants import TenantSettings
from cashback.services import keys
from cashback_tools.audit import verify
from cashback_tools.local.sandbox_provider import deliver_callbacks
from cashback_tools.local.stack import LocalStack, StoreKind

SHOPPERS = ("ana", "bruno", "carla", "diego", "elisa")
CATEGORIES = (
    ("tenis-run", "shoes"),
    ("camiseta", "apparel"),
    ("fone-bt", "electronics"),
    ("garrafa", "home"),
)


def money(amount: int, currency: str = "BRL") -> str:
    """Minor units as text, without ever going through a float."""
    digits = MINOR_UNITS[currency]
    sign = "-" if amount < 0 else ""
    whole, cents = divmod(abs(amount), 10**digits)
    return f"{currency} {sign}{whole:,}" + (f".{cents:0{digits}d}" if digits else "")


class Storefront:
    def __init__(self, base_url: str, key: str) -> None:
        self.base_url, self.key = base_url, key

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.base_url + path,
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as reply:
                return reply.status, json.loads(reply.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())


def _say(text: str = "") -> None:
    print(text, flush=True)


def run(store: StoreKind = "dynamodb-local", serve: bool = False, plots: Path | None = None) -> int:
    """The demo month; `serve`: then keep the stack up for the console; `plots`: a folder
    to draw its reports in."""
    rng = random.Random(2026)
    now = datetime.now(UTC).replace(microsecond=0)
    settings = TenantSettings(currency="BRL", backdate_days=45)
    # Each function runs in its own workers, as on Lambda, so the accrual function would see
    # the program published below only when its cached version index expires (30 s when
    # deployed); the demo buys at once, so its functions cache nothing. The month is run
    # forward past today: the lifecycle job needs time travel for that.
    with LocalStack(
        tenants=("demo", "rival"),
        store=store,
        quiet=True,
        settings=settings,
        time_travel=True,
        function_env={"SETTINGS_CACHE_SECONDS": "0"},
    ) as stack:
        shop = Storefront(stack.url, stack.keys["demo"]["storefront"])
        rival = Storefront(stack.url, stack.keys["rival"]["storefront"])
        _say(f"Local stack up: API {stack.url}, DynamoDB Local {stack.endpoint_url}")
        _say(
            "Storefront 'demo' pays a flat 5% until it publishes a program. Cashback waits "
            "30 days, expires after 180.\n"
        )

        orders: dict[str, list[dict[str, Any]]] = {name: [] for name in SHOPPERS}
        _say("A month of purchases")
        for n in range(1, 16):
            shopper = SHOPPERS[n % len(SHOPPERS)]
            lines = [
                {"sku": sku, "category": category, "amount": rng.randrange(1990, 49990, 10)}
                for sku, category in rng.sample(CATEGORIES, rng.randint(1, 3))
            ]
            body: dict[str, Any] = {
                "order_id": f"pedido-{n:04d}",
                "customer_id": shopper,
                "amount": sum(line["amount"] for line in lines),
                "currency": "BRL",
                "occurred_at": to_iso(now - timedelta(days=31 - 2 * n, hours=n)),
                "channel": rng.choice(["online", "store", "app"]),
                "lines": lines,
            }
            status, reply = shop.call("POST", "/v1/purchases", body)
            assert status == 201, reply
            orders[shopper].append(body)
            _say(
                f"  {body['occurred_at'][:10]}  {shopper:<6} {body['order_id']}  "
                f"{money(body['amount']):>14}  cashback {money(reply['cashback']):>11}  "
                f"available from {reply['available_at'][:10]}"
            )

        admin = Storefront(stack.url, stack.keys["demo"]["admin"])
        example = json.loads(
            (stack.template_path.parent / "docs" / "rules.example.json").read_text()
        )
        status, published = admin.call("PUT", "/v1/rules", example)
        assert status == 201, published
        _say(
            f"\nToday the storefront publishes its program '{example['name']}' (version "
            f"{published['version']}); past purchases keep what they earned"
        )
        basket = [
            {"sku": "tenis-corrida", "category": "shoes", "amount": 39990},
            {"sku": "camiseta-organica", "category": "fashion", "amount": 8990, "eco": True},
        ]
        status, reply = shop.call(
            "POST",
            "/v1/purchases",
            {
                "order_id": "pedido-0100",
                "customer_id": "ana",
                "amount": 48980,
                "currency": "BRL",
                "occurred_at": to_iso(datetime.now(UTC)),
                "channel": "app",
                "lines": basket,
            },
        )
        assert status == 201, reply
        _say(
            f"  ana buys {money(48980)} in the app: cashback {money(reply['cashback'])} "
            f"under version {reply['rules_version']}"
        )
        for sentence in reply["explanation"]:
            _say(f"    {sentence}")

        _say("\nRefund abuse: every purchase is scored before any cashback is credited")
        cases = []
        for n in range(8):  # a new account buying again and again, minutes apart
            body = {
                "order_id": f"pedido-z{n}",
                "customer_id": "zeca",
                "amount": 89990 + n,
                "currency": "BRL",
                "occurred_at": to_iso(datetime.now(UTC)),
                "channel": "online",
                "device_id": "aparelho-77",
                "payment_fingerprint": "cartao-77",
                "lines": [{"sku": "celular", "category": "smartphones", "amount": 89990 + n}],
            }
            status, reply = shop.call("POST", "/v1/purchases", body)
            cases.append(reply)
        _say(
            "  zeca, a brand-new account, orders 8 phones in minutes: "
            + ", ".join(r["status"] for r in cases)
        )
        for n, farmer in enumerate(("fake-1", "fake-2", "fake-3", "fake-4")):
            status, reply = shop.call(
                "POST",
                "/v1/purchases",
                {
                    "order_id": f"pedido-f{n}",
                    "customer_id": farmer,
                    "amount": 49990,
                    "currency": "BRL",
                    "occurred_at": to_iso(datetime.now(UTC)),
                    "channel": "app",
                    "device_id": "aparelho-77",
                    "payment_fingerprint": "cartao-77",
                    "lines": [{"sku": "fone", "category": "electronics", "amount": 49990}],
                },
            )
            cases.append(reply)
            _say(f"  {farmer} on zeca's phone and card: {reply['status']}")
        status, entry = Storefront(stack.url, stack.keys["demo"]["review"]).call(
            "PUT", "/v1/lists/deny_payment/cartao-roubado", {"reason": "reported stolen"}
        )
        assert status == 200, entry
        status, reply = shop.call(
            "POST",
            "/v1/purchases",
            {
                "order_id": "pedido-x1",
                "customer_id": "joao-ninguem",
                "amount": 129990,
                "currency": "BRL",
                "occurred_at": to_iso(datetime.now(UTC)),
                "channel": "online",
                "payment_fingerprint": "cartao-roubado",
                "lines": [{"sku": "notebook", "category": "electronics", "amount": 129990}],
            },
        )
        cases.append(reply)
        _say(f"  someone pays with a card the storefront put on its deny list: {reply['status']}")
        assert stack.store is not None
        # The last blocked purchase is the deny list's (the model may block the burst too).
        shown = [r for r in cases if r["status"] == "held"][:2] + [
            r for r in cases if r["status"] == "blocked"
        ][-1:]
        for reply in shown:
            record = stack.store.get_order("demo", reply["order_id"])
            assert record is not None and record.risk is not None
            risk = record.risk
            score = f"risk {risk['score']}, " if risk["score"] else ""
            _say(
                f"  case {reply['order_id']} ({risk['action']}, {score}"
                f"{risk['model_version']}): " + "; ".join(risk["reasons"])
            )
        _, zeca = shop.call("GET", "/v1/customers/zeca/balance")
        _say(
            f"  zeca's balance: pending {money(zeca['pending'])}, held for review "
            f"{money(zeca['held'])}"
        )
        _analysts(stack)

        _say("\nRetries and mistakes")
        retry = orders["ana"][0]
        status, reply = shop.call("POST", "/v1/purchases", retry)
        _say(f"  retry of {retry['order_id']} after a timeout: {status}, same reply, credited once")
        other_channel = "app" if retry["channel"] == "store" else "store"
        status, reply = shop.call("POST", "/v1/purchases", {**retry, "channel": other_channel})
        _say(f"  same order id, different body: {status} {reply['code']}")
        status, reply = shop.call(
            "POST", "/v1/purchases", {**retry, "order_id": "pedido-x", "amount": "129.90"}
        )
        _say(f"  amount sent as text: {status} {reply['code']}: {reply['message']}")
        status, reply = shop.call(
            "POST", "/v1/purchases", {**retry, "order_id": "pedido-y", "currency": "USD"}
        )
        _say(f"  wrong currency: {status} {reply['code']}: {reply['message']}")

        _say("\nReturns")
        partial = orders["bruno"][0]
        status, reply = shop.call(
            "POST",
            "/v1/refunds",
            {
                "refund_id": "devolucao-1",
                "order_id": partial["order_id"],
                "amount": partial["amount"] // 3,
                "occurred_at": to_iso(now - timedelta(days=1)),
            },
        )
        _say(
            f"  bruno returns a third of {partial['order_id']}: {status}, "
            f"{money(reply['clawed_back'])} clawed back from pending"
        )
        for number, order in enumerate(orders["carla"], start=2):
            status, reply = shop.call(
                "POST",
                "/v1/refunds",
                {
                    "refund_id": f"devolucao-{number}",
                    "order_id": order["order_id"],
                    "amount": order["amount"],
                    "occurred_at": to_iso(now),
                },
            )
            _say(
                f"  carla returns all of {order['order_id']}: {status}, "
                f"{money(reply['clawed_back'])} clawed back"
            )
        status, reply = shop.call(
            "POST",
            "/v1/refunds",
            {
                "refund_id": "devolucao-99",
                "order_id": partial["order_id"],
                "amount": partial["amount"],
                "occurred_at": to_iso(now),
            },
        )
        _say(f"  bruno tries to return more than he paid: {status} {reply['code']}")

        _say("\nBalances")
        _say(f"  {'customer':<9}{'pending':>16}{'available':>14}{'debt':>12}   next expiry")
        for shopper in SHOPPERS:
            _, balance = shop.call("GET", f"/v1/customers/{shopper}/balance")
            expiry = balance["next_expiry"]
            when = f"{money(expiry['amount'])} on {expiry['at'][:10]}" if expiry else "-"
            _say(
                f"  {shopper:<9}{money(balance['pending']):>16}"
                f"{money(balance['available']):>14}{money(balance['debt']):>12}   {when}"
            )

        _, page = shop.call("GET", "/v1/customers/bruno/entries?limit=3")
        _say("\nbruno's ledger, newest first (each entry carries the hash of the one before)")
        for entry in page["items"]:
            changes = ", ".join(f"{k} {v:+d}" for k, v in sorted(entry["changes"].items()))
            _say(
                f"  #{entry['seq']} {entry['kind']:<8} {entry['ref']:<13} {changes:<48} "
                f"{entry['hash'][:12]}.."
            )

        _say("\nTime passes: the hourly lifecycle job, run as of later moments")
        for days in (31, 175, 200):
            if days == 175:
                _checkout(shop, stack, now)
                _payouts(shop, stack)
                _say("\nMore time passes")
            at = to_iso(now + timedelta(days=days))
            report = stack.invoke("ExpiryFunction", {"time": at})
            assert isinstance(report, dict) and not report["failures"], report
            _say(
                f"  {at[:10]}: ripened {report['lots_ripened']} lots "
                f"({money(report['cashback_ripened'])}), reminded {report['reminders']}, "
                f"expired {report['lots_expired']} ({money(report['cashback_expired'])})"
            )
        kinds = sorted({e["detail-type"] for e in stack.events})
        _say(
            "  events for the storefront: "
            + ", ".join(f"{sum(e['detail-type'] == k for e in stack.events)} {k}" for k in kinds)
        )

        status, theirs = rival.call("GET", "/v1/customers/ana/balance")
        _say(
            f"\nAnother storefront asks for 'ana': {status}, pending {money(theirs['pending'])} "
            "(its own customer namespace; it cannot see ours)"
        )

        from cashback_tools.local.demo_reports import experiment, reports

        reconciled = reports(stack, now - timedelta(days=31), now + timedelta(days=200), plots)
        experiment(stack, now, plots)

        assert stack.store is not None
        report = verify(stack.store, "demo")
        verdict = (
            "hash chains intact, balances equal their entries"
            if report.ok
            else "; ".join(report.problems)
        )
        _say(f"Ledger audit: {report.customers} customers, {report.entries} entries, {verdict}")
        if serve and report.ok:
            _serve_console(stack)
        return 0 if report.ok and reconciled else 1


def _serve_console(stack: LocalStack) -> None:
    """Keep the demo's stack up for the analysts' console until Ctrl-C (or SIGTERM)."""
    _say(f"\nThe console: {stack.url}/console/ (sign in with this review key)")
    _say(f"  {stack.keys['demo']['review']}")
    _say("Ctrl-C stops the stack.")
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    with contextlib.suppress(KeyboardInterrupt):
        stopped.wait()


def _analysts(stack: LocalStack) -> None:
    """Two analysts work the queue: claims (and a take-over), notes, decisions with a close
    reason (one puts the customer on the watch list), the team's view. The rest of the
    queue stays open for the console (`cashback demo --serve`)."""
    assert stack.store is not None
    alice = Storefront(stack.url, stack.keys["demo"]["review"])
    bob = Storefront(stack.url, keys.create_key(stack.store, "demo", ["review"], _now()))
    _, queue = alice.call("GET", "/v1/reviews?status=open")
    _say(f"  the analysts' queue: {len(queue['items'])} cases, riskiest first")
    worst, mildest = queue["items"][0], queue["items"][-1]
    case = f"/v1/reviews/{worst['order_id']}"
    _, claimed = alice.call("POST", f"{case}/claim")
    status, refused = bob.call("POST", f"{case}/decision", {"decision": "approve"})
    _say(
        f"  analyst A claims {worst['order_id']} until {claimed['claim']['until']}; "
        f"analyst B's decision on it: {status} {refused['code']}"
    )
    alice.call("POST", f"{case}/notes", {"text": "same phone as three other new accounts"})
    _, rejected = alice.call(
        "POST",
        f"{case}/decision",
        {"decision": "reject", "reason": "account_farming", "customer_list": "watch_customer"},
    )
    _, approved = bob.call(
        "POST",
        f"/v1/reviews/{mildest['order_id']}/decision",
        {"decision": "approve", "reason": "legitimate", "note": "called the customer"},
    )
    _say(
        f"  A rejects it (account_farming, {rejected['status']}; {worst['customer_id']} goes "
        f"on the watch list); B approves {mildest['order_id']} ({approved['status']}, "
        f"{money(approved['cashback'])} credited)"
    )
    _, stats = alice.call("GET", "/v1/review-stats")
    _say(
        f"  the team: {stats['open']} cases open, {stats['decided']} decided, approval rate "
        f"{stats['approval_rate']}; the rest wait for the console (cashback demo --serve)"
    )


def _now() -> str:
    return to_iso(datetime.now(UTC).replace(microsecond=0))


def _redeem(shop: Storefront, rid: str, shopper: str, amount: int, capture: bool) -> dict[str, Any]:
    body = {
        "redemption_id": rid,
        "customer_id": shopper,
        "amount": amount,
        "order_id": f"checkout-{rid}",
        "occurred_at": to_iso(datetime.now(UTC).replace(microsecond=0)),
        "channel": "online",
        "capture": capture,
        "order_amount": amount * 10,  # the program lets cashback pay part of an order
    }
    status, reply = shop.call("POST", "/v1/redemptions", body)
    assert status == 201, reply
    return reply


def _checkout(shop: Storefront, stack: LocalStack, now: datetime) -> None:
    """Spending at checkout: holds captured, partly captured, cancelled and expired, a
    redemption that finds too little, and goods paid with cashback coming back."""
    _say("\nCheckout: customers spend their cashback (earliest deadline first)")
    available = {}
    for shopper in SHOPPERS:
        _, balance = shop.call("GET", f"/v1/customers/{shopper}/balance")
        available[shopper] = balance["available"] - balance["debt"]
    ana, bruno, diego, elisa = (available[name] // 2 for name in ("ana", "bruno", "diego", "elisa"))
    held = _redeem(shop, "hold-ana", "ana", ana, capture=False)
    lots = ", ".join(f"{money(lot['amount'])} of {lot['order_id']}" for lot in held["lots"])
    _say(f"  ana    holds {money(ana)} at checkout (reserved; from {lots})")
    _, done = shop.call("POST", "/v1/redemptions/hold-ana/capture", {"amount": ana * 3 // 4})
    _say(
        f"         the order ships short: captures {money(done['captured'])}, "
        f"{money(ana - done['captured'])} is spendable again at once"
    )
    _redeem(shop, "hold-bruno", "bruno", bruno, capture=False)
    _, done = shop.call("POST", "/v1/redemptions/hold-bruno/capture")
    _say(f"  bruno  holds {money(bruno)} and captures all of it: {done['status']}")
    _redeem(shop, "hold-diego", "diego", diego, capture=False)
    _, done = shop.call("POST", "/v1/redemptions/hold-diego/cancel")
    _say(f"  diego  holds {money(diego)}, abandons the cart: {done['status']}, all back")
    _redeem(shop, "hold-elisa", "elisa", elisa, capture=False)
    sweep = stack.invoke(
        "RedemptionFunction",
        {"time": to_iso(datetime.now(UTC) + timedelta(minutes=16)), "job": "release-holds"},
    )
    assert isinstance(sweep, dict), sweep
    status, late = shop.call("POST", "/v1/redemptions/hold-elisa/capture")
    _say(
        f"  elisa  holds {money(elisa)} and never pays; 16 minutes later the sweep released "
        f"{sweep['released']} hold; her late capture: {status} {late['code']}"
    )
    status, short = shop.call(
        "POST",
        "/v1/redemptions",
        {
            "redemption_id": "too-much-carla",
            "customer_id": "carla",
            "amount": available["carla"] + 100,
            "order_id": "checkout-carla",
            "occurred_at": to_iso(datetime.now(UTC).replace(microsecond=0)),
            "channel": "store",
            "order_amount": (available["carla"] + 100) * 10,
        },
    )
    _say(
        f"  carla  asks for {money(available['carla'] + 100)} with "
        f"{money(short['details']['available'])}: {status} {short['code']}"
    )
    spent = available["ana"] - ana * 3 // 4
    _redeem(shop, "spend-ana", "ana", spent, capture=True)
    status, back = shop.call(
        "POST",
        "/v1/redemptions/spend-ana/reversals",
        {
            "reversal_id": "return-ana",
            "amount": spent // 2,
            "occurred_at": to_iso(datetime.now(UTC).replace(microsecond=0)),
        },
    )
    assert status == 201, back
    _say(
        f"  ana    spends the rest, {money(spent)}, then returns half the goods: "
        f"{money(back['reversal']['amount'])} of cashback comes back with its deadlines"
    )
    _refund_paid_with_cashback(shop, "diego")
    _say(f"  {'customer':<9}{'available':>14}{'reserved':>12}")
    for shopper in SHOPPERS:
        _, balance = shop.call("GET", f"/v1/customers/{shopper}/balance")
        _say(f"  {shopper:<9}{money(balance['available']):>14}{money(balance['reserved']):>12}")


def _payouts(shop: Storefront, stack: LocalStack) -> None:
    """Withdrawals: paid, failed (the money comes back), and paid then returned by the
    bank two days later (back again, once)."""
    _say("\nPayouts: customers withdraw cashback by PIX (the sandbox provider)")
    asks = (("ana", "ana", 2000), ("bruno", "fail", 2000), ("diego", "return", 3000))
    for shopper, local, amount in asks:
        status, reply = shop.call(
            "POST",
            "/v1/payouts",
            {
                "payout_id": f"saque-{shopper}",
                "customer_id": shopper,
                "amount": amount,
                "method": "pix",
                "destination": {"key_type": "email", "key": f"{local}@example.com"},
            },
        )
        assert status == 202, reply
        _say(
            f"  {shopper:<6} asks for {money(amount)} to {reply['destination']['key']}: "
            f"{reply['status']}, reserved {money(reply['balance']['reserved'])}"
        )
    status, low = shop.call(
        "POST",
        "/v1/payouts",
        {
            "payout_id": "saque-elisa",
            "customer_id": "elisa",
            "amount": 500,
            "method": "pix",
            "destination": {"key_type": "email", "key": "elisa@example.com"},
        },
    )
    _say(f"  elisa  asks for {money(500)}: {status} {low['code']}")
    now = datetime.now(UTC).replace(microsecond=0)
    report = stack.invoke("PayoutFunction", {"time": to_iso(now), "job": "submit-payouts"})
    assert isinstance(report, dict), report
    _say(f"  the payout job submits {report['submitted']} payouts to the provider")
    replies = deliver_callbacks(stack, now) + deliver_callbacks(stack, now + timedelta(days=3))
    heard = [reply["status"] for _, reply in replies]
    _say(f"  the provider calls back (signed): {', '.join(heard)}")
    for shopper, _, _ in asks:
        _, payout = shop.call("GET", f"/v1/payouts/saque-{shopper}")
        left = money(payout["balance"]["available"])
        _say(f"  {shopper:<6} {payout['status']:<9} available {left}")


def _refund_paid_with_cashback(shop: Storefront, shopper: str) -> None:
    """An order paid partly with cashback, reported as a purchase, then returned in full:
    the cashback it was paid with comes back with the refund."""
    order_id = f"pedido-cashback-{shopper}"
    status, spent = shop.call(
        "POST",
        "/v1/redemptions",
        {
            "redemption_id": f"paga-{shopper}",
            "customer_id": shopper,
            "amount": 1000,
            "order_id": order_id,
            "occurred_at": to_iso(datetime.now(UTC).replace(microsecond=0)),
            "channel": "store",
            "order_amount": 10000,
        },
    )
    assert status == 201, spent
    status, bought = shop.call(
        "POST",
        "/v1/purchases",
        {
            "order_id": order_id,
            "customer_id": shopper,
            "amount": 10000,
            "currency": "BRL",
            "occurred_at": to_iso(datetime.now(UTC).replace(microsecond=0)),
            "channel": "store",
            "lines": [{"sku": "tenis-run", "category": "shoes", "amount": 10000}],
        },
    )
    assert status == 201, bought
    status, refund = shop.call(
        "POST",
        "/v1/refunds",
        {
            "refund_id": f"devolve-{shopper}",
            "order_id": order_id,
            "amount": 10000,
            "occurred_at": to_iso(datetime.now(UTC).replace(microsecond=0)),
        },
    )
    assert status == 201, refund
    _say(
        f"  {shopper:<6} pays {money(1000)} of {order_id} with cashback, then returns it all: "
        f"the refund gives back {money(refund['cashback_returned'])} of cashback"
    )
