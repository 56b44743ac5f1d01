"""The demo's reports: once the table's stream has reached ReportsFunction, the liability
roll-forward month by month, checked against the audited accounts, and breakage by
earning month."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta

from cashback.domain.reports.liability import STATES
from cashback_tools.local.demo import Storefront, _say, money
from cashback_tools.local.stack import LocalStack

COLUMNS = ("opening", "issued", "spent", "paid_out", "expired", "clawed_back", "voided", "closing")


def reports(stack: LocalStack, first: datetime, last: datetime) -> bool:
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
    return reconciles
