"""The program report through the whole local path: a program with a holdout experiment and
a gross margin, customers buying over HTTP, the table's stream folded by ReportsFunction,
and GET /v1/reports/program adding up to what was bought, per month, cohort and variant."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from cashback.domain.rules.experiments import Experiment, assign
from cashback_tools.cli import main
from cashback_tools.local.stack import TABLE_NAME, LocalStack

from .client import Api, unique
from .test_rules_api import Storefront, program

SPLIT: dict[str, Any] = {
    "id": "launch",
    "variants": [
        {"name": "holdout", "share": "0.5"},
        {"name": "cashback", "share": "0.5"},
    ],
    "holdout": "holdout",
}


def test_the_program_report_adds_up_per_month_cohort_and_variant(
    stack: LocalStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shop = Storefront(stack)
    shop.publish(program(experiment=SPLIT, gross_margin="0.40"))
    experiment = Experiment.model_validate(SPLIT)
    spent: dict[str, list[int]] = defaultdict(list)  # variant -> each customer's revenue
    orders = revenue = repeaters = 0
    for i in range(24):
        customer = unique(f"p{i}")
        amounts = [10000 + 100 * i] * (1 + i % 3)  # one, two or three purchases
        for amount in amounts:
            shop.buy(customer, [("books", amount)])
        spent[assign(experiment, shop.tenant, customer).name].append(sum(amounts))
        orders, revenue = orders + len(amounts), revenue + sum(amounts)
        repeaters += len(amounts) > 1
    stack.settle()
    admin = Api(stack.url, stack.keys[shop.tenant]["admin"])
    today = str(datetime.now(UTC).date())
    reply = admin.get("/v1/reports/program", params={"from": today, "to": today})
    assert reply.status_code == 200, reply.text
    report = reply.json()
    assert report["gross_margin"] == "0.40"
    (month,) = report["months"]
    assert (month["orders"], month["revenue"], month["customers"]) == (orders, revenue, 24)
    assert month["new_customers"] == 24
    assert month["average_ticket"] == round(Decimal(revenue) / orders)
    (cohort,) = report["cohorts"]
    assert (cohort["customers"], cohort["revenue"]) == (24, revenue)
    assert cohort["repeat_30d_rate"] == str((Decimal(repeaters) / 24).quantize(Decimal("0.0001")))
    (launch,) = report["experiments"]
    variants = {v["name"]: v for v in launch["variants"]}
    for name, customers in spent.items():
        assert variants[name]["customers"] == len(customers)
        assert variants[name]["revenue"] == sum(customers)
    assert variants["holdout"]["holdout"] and variants["holdout"]["cashback"] == 0
    assert variants["cashback"]["cashback"] > 0
    (lift,) = launch["against_holdout"]
    mean = {name: Decimal(sum(c)) / len(c) for name, c in spent.items()}
    assert lift["revenue_per_customer_lift"] == round(mean["cashback"] - mean["holdout"])
    low, high = lift["interval_95"]
    assert low <= lift["revenue_per_customer_lift"] <= high
    assert lift["roi"] is not None and lift["roi_interval_95"] is not None
    users = report["users_against_non_users"]
    assert "self-selection" in users["note"]
    assert users["non_users"]["orders"] == orders  # nobody had spent cashback yet
    # The operators' command reads the same totals, and the program's margin.
    base = ["--tenant", shop.tenant, "--table", TABLE_NAME, "--endpoint-url", stack.endpoint_url]
    csv_path, png_path = tmp_path / "program.csv", tmp_path / "experiments.png"
    code = main(["report", "program", *base, "--csv", str(csv_path), "--png", str(png_path)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "experiment launch:" in printed and f"ROI {lift['roi']}" in printed
    header, row = csv_path.read_text().splitlines()[:2]
    assert (
        header
        == "month,orders,revenue,average_ticket,customers,new_customers,purchase_frequency,cashback"
    )
    assert row.split(",")[1:3] == [str(orders), str(revenue)]
    assert png_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
