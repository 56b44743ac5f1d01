"""The demo's reports: once the table's stream has reached ReportsFunction, the liability
roll-forward month by month, checked against the audited accounts, breakage by earning
month, and an experiment's lift against its holdout."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from cashback.domain.clock import to_iso
from cashback.domain.reports.liability import STATES
from cashback_tools import report_plots
from cashback_tools.local.demo import Storefront, _say, money
from cashback_tools.local.stack import LocalStack

COLUMNS = ("opening", "issued", "spent", "paid_out", "expired", "clawed_back", "voided", "closing")


def reports(stack: LocalStack, first: datetime, last: datetime, plots: Path | None) -> bool:
    """Print the reports from `first`'s month to `last`; True when the liability at the end
    is exactly what the accounts hold."""
    stack.settle()
    admin = Storefront(stack.url, stack.keys["demo"]["admin"])
    start = date(first.year, first.month, 1).isoformat()
    end = (last + timedelta(days=1)).date().isoformat()
    status, report = admin.call(
        "GET", f"/v1/reports/liability?from={start}&to={end}&granularity=month"
    )
    assert status == 200, report
    _say("\nReports: the table's stream, folded by ReportsFunction (GET /v1/reports/liability)")
    _say("  month   " + "".join(f"{name.replace('_', ' '):>15}" for name in COLUMNS))
    for period in report["periods"]:
        cells = "".join(f"{money(period[name]):>15}" for name in COLUMNS)
        _say(f"  {period['start'][:7]} {cells}")
    closing = report["periods"][-1]["closing_by_state"]
    held = Counter[str]()
    assert stack.store is not None
    customers = list(stack.store.customers("demo"))
    for customer in customers:
        held.update(stack.store.get_account("demo", customer).values)
    reconciles = closing == {state: held[state] for state in STATES}
    _say(
        f"  owed on {end}: "
        + ", ".join(f"{state} {money(closing[state])}" for state in STATES)
        + (
            f"; the {len(customers)} audited accounts hold exactly that"
            if reconciles
            else f"; the accounts hold {dict(held)}: NOT reconciled"
        )
    )
    breakage = report["breakage"]
    _say("  breakage by earning month:")
    for cohort in breakage["cohorts"]:
        _say(
            f"    {cohort['month']}: issued {money(cohort['issued'])}, redeemed "
            f"{money(cohort['redeemed'])}, expired {money(cohort['expired'])} "
            f"(breakage {cohort['breakage_rate']}), outstanding {money(cohort['outstanding'])}"
            f"{', closed' if cohort['closed'] else ''}"
        )
    expected = breakage["expected_rate"] or "none closed yet"
    _say(f"  expected breakage rate of open cohorts: {expected}")
    if plots is not None:
        plots.mkdir(parents=True, exist_ok=True)
        report_plots.liability(report, plots / "report-liability.png")
        report_plots.breakage(report, plots / "report-breakage.png")
    return reconciles


def experiment(stack: LocalStack, now: datetime, plots: Path | None) -> None:
    """Storefront 'rival' tests its program against a holdout: half its customers (by a
    hash of their id) earn nothing. The demo's shoppers answer the way cashback programs
    report they do (those who earn come back more often); the report measures the lift."""
    rng = random.Random(12)
    admin = Storefront(stack.url, stack.keys["rival"]["admin"])
    shop = Storefront(stack.url, stack.keys["rival"]["storefront"])
    rules = {
        "name": "Rival: 5% back, tested against a holdout",
        "currency": "BRL",
        "time_zone": "America/Sao_Paulo",
        "effective_from": to_iso(datetime.now(UTC)),
        "base_rate": "0.05",
        "gross_margin": "0.35",
        "experiment": {
            "id": "cashback-2026",
            "variants": [{"name": "holdout", "share": "0.5"}, {"name": "cashback", "share": "0.5"}],
            "holdout": "holdout",
        },
    }
    status, published = admin.call("PUT", "/v1/rules", rules)
    assert status == 201, published
    _say("\nAn experiment: storefront 'rival' pays 5% back, and holds half its customers out")
    # A version applies from when it is published: the experiment's purchases are today's.
    for n in range(120):
        variant = _buy(shop, f"cliente-{n:03d}", n, rng)
        if rng.random() < (0.6 if variant == "cashback" else 0.35):
            _buy(shop, f"cliente-{n:03d}", n + 1000, rng)
    stack.settle()
    start = now.date().isoformat()
    status, report = admin.call(
        "GET", f"/v1/reports/program?from={start}&to={now.date().isoformat()}"
    )
    assert status == 200, report
    (launch,) = report["experiments"]
    for variant in launch["variants"]:
        _say(
            f"  {variant['name']:<9} {variant['customers']:>3} customers, {variant['orders']:>3} "
            f"orders, {money(variant['revenue_per_customer'])} per customer, came back "
            f"{variant['repeat_rate']}, cashback {money(variant['cashback'])}"
        )
    (lift,) = launch["against_holdout"]
    low, high = lift["interval_95"]
    roi_low, roi_high = lift["roi_interval_95"]
    _say(
        f"  lift: {money(lift['revenue_per_customer_lift'])} per customer (95% interval "
        f"{money(low)} to {money(high)}), ROI at a 35% margin {lift['roi']} "
        f"({roi_low} to {roi_high})"
    )
    if plots is not None:
        report_plots.experiments(report, plots / "report-experiment.png")


def _buy(shop: Storefront, customer: str, n: int, rng: random.Random) -> str:
    amount = rng.randrange(5000, 30000, 10)
    status, reply = shop.call(
        "POST",
        "/v1/purchases",
        {
            "order_id": f"rival-{n:05d}",
            "customer_id": customer,
            "amount": amount,
            "currency": "BRL",
            "occurred_at": to_iso(datetime.now(UTC)),
            "channel": "online",
            "lines": [{"sku": "item", "category": "home", "amount": amount}],
        },
    )
    assert status == 201, reply
    return str(reply["breakdown"]["experiments"][0]["variant"])
