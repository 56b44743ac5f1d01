"""`cashback report liability|breakage|program`: the program's reports for operators and finance,
read from the report totals in the table (what GET /v1/reports/... answers), printed as a
table, and written as CSV and PNG on request.
"""

from __future__ import annotations

import argparse
import csv
import sys
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from cashback_tools import report_plots

ROLL_FORWARD = (
    "start",
    "end",
    "opening",
    "issued",
    "spent",
    "paid_out",
    "expired",
    "clawed_back",
    "voided",
    "closing",
    "pending",
    "available",
    "held",
    "reserved",
    "debt",
)
COHORT_COLUMNS = (
    "month",
    "issued",
    "redeemed",
    "expired",
    "clawed_back",
    "outstanding",
    "breakage_rate",
    "redemption_rate",
    "closed",
    "expected_breakage",
    "recognised_breakage",
)


MONTH_COLUMNS = (
    "month",
    "orders",
    "revenue",
    "average_ticket",
    "customers",
    "new_customers",
    "purchase_frequency",
    "cashback",
)
VARIANT_COLUMNS = (
    "name",
    "holdout",
    "customers",
    "orders",
    "revenue",
    "revenue_per_customer",
    "repeat_rate",
    "cashback",
)


def liability_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """One flat row per period: the roll-forward, then the closing balance by state."""
    return [
        {
            **{k: v for k, v in period.items() if k != "closing_by_state"},
            **period["closing_by_state"],
        }
        for period in report["periods"]
    ]


def cohort_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {name: cohort[name] for name in COHORT_COLUMNS} for cohort in report["breakage"]["cohorts"]
    ]


def _print(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> None:
    widths = {c: max([len(c), *(len(str(row[c])) for row in rows)]) for c in columns}
    print("  ".join(c.rjust(widths[c]) for c in columns))
    for row in rows:
        print("  ".join(str(row[c]).rjust(widths[c]) for c in columns))


def _write_csv(path: Path, rows: list[dict[str, Any]], columns: tuple[str, ...]) -> None:
    with path.open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {path}")


def _report(args: argparse.Namespace) -> dict[str, Any]:
    from cashback.services import reports
    from cashback_tools.cli import _store

    end = args.to or datetime.now(UTC).date()
    start = args.start or date(end.year, end.month, 1)
    return reports.liability(
        _store(args), args.tenant, start, end, args.granularity, datetime.now(UTC)
    )


def _show(
    args: argparse.Namespace,
    rows: list[dict[str, Any]],
    columns: tuple[str, ...],
    draw: Any,
    report: dict[str, Any],
) -> int:
    """Print the rows; write them as CSV and the report as a PNG when asked."""
    _print(rows, columns)
    if args.csv:
        _write_csv(args.csv, rows, columns)
    if args.png:
        draw(report, args.png)
        print(f"wrote {args.png}")
    return 0


def cmd_liability(args: argparse.Namespace) -> int:
    report = _report(args)
    return _show(args, liability_rows(report), ROLL_FORWARD, report_plots.liability, report)


def cmd_breakage(args: argparse.Namespace) -> int:
    report = _report(args)
    print(f"expected breakage rate of open cohorts: {report['breakage']['expected_rate']}")
    return _show(args, cohort_rows(report), COHORT_COLUMNS, report_plots.breakage, report)


def _margin(store: Any, tenant: str, now: datetime) -> Decimal | None:
    """The gross margin of the program in force (None: no program, or none set)."""
    from cashback.services import programs

    current = programs.in_force(programs.records(store, tenant), now)
    if current is None:
        return None
    margin: Decimal | None = programs.load(store, tenant, current.version).gross_margin
    return margin


def cmd_program(args: argparse.Namespace) -> int:
    from cashback.services import reports
    from cashback_tools.cli import _store

    now = datetime.now(UTC)
    end = args.to or now.date()
    start = args.start or date(end.year, end.month, 1)
    store = _store(args)
    report = reports.program(store, args.tenant, start, end, _margin(store, args.tenant, now))
    rows = report["months"]
    for experiment in report["experiments"]:
        print(f"experiment {experiment['id']}:")
        _print(experiment["variants"], VARIANT_COLUMNS)
        for lift in experiment["against_holdout"]:
            print(
                f"  {lift['variant']} against {lift['against']}: "
                f"{lift['revenue_per_customer_lift']} per customer, 95% interval "
                f"{lift['interval_95']}, ROI {lift['roi']} {lift['roi_interval_95']}"
            )
    return _show(args, rows, MONTH_COLUMNS, report_plots.experiments, report)


def register(commands: Any) -> None:
    from cashback_tools.cli import _table_options

    report = commands.add_parser(
        "report", help="the program's reports: liability, breakage, results and experiments"
    ).add_subparsers(dest="action", required=True)
    for name, run, text in (
        ("liability", cmd_liability, "opening + issued - spent - paid out - ... = closing"),
        ("breakage", cmd_breakage, "expired and redeemed per earning month, expected breakage"),
        ("program", cmd_program, "orders, customers, cohorts, experiments against holdouts"),
    ):
        command = report.add_parser(name, help=text)
        command.add_argument("--tenant", required=True)
        command.add_argument("--from", dest="start", type=date.fromisoformat, help="first day")
        command.add_argument("--to", type=date.fromisoformat, help="last day (default: today)")
        command.add_argument("--granularity", choices=["day", "month"], default="day")
        command.add_argument("--csv", type=Path, help="also write the rows as CSV")
        command.add_argument("--png", type=Path, help="also draw the report as a PNG")
        _table_options(command)
        command.set_defaults(run=run)


if __name__ == "__main__":  # pragma: no cover
    sys.exit("run it as `cashback report ...`")
