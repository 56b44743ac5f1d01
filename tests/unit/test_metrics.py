"""Metrics that can be trusted: every name the code emits is declared once, money carries its
currency, and what the alarms watch is what the code emits."""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cashback import observability
from cashback.adapters.dynamodb.store import Store
from cashback.domain.lists import new_entry
from cashback.domain.tenants import TenantSettings
from cashback.observability import METRICS, count_money
from cashback_tools.local.template import load_template

from .test_events import (  # noqa: F401 - fixtures
    Functions,
    api_event,
    functions,
    load_event,
    table,
)

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted(
    [
        *(ROOT / "functions").rglob("*.py"),
        *(ROOT / "layers" / "cashback" / "python" / "cashback").rglob("*.py"),
    ]
)
OBSERVABILITY = ROOT / "layers" / "cashback" / "python" / "cashback" / "observability.py"
EMITTERS = {"add_metric", "single_metric", "count_money", "count_by"}
MONEY = {name for name, dimensions in METRICS.items() if "currency" in dimensions}


def _callee(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    if isinstance(call.func, ast.Name):
        return call.func.id
    return None


def _name_argument(call: ast.Call) -> ast.expr | None:
    for keyword in call.keywords:
        if keyword.arg == "name":
            return keyword.value
    return call.args[0] if call.args else None


def _loop_names(tree: ast.Module, call: ast.Call, variable: str) -> list[str] | None:
    """`for name, value in (("A", a), ("B", b)): add_metric(name=name, ...)`: A and B."""
    for loop in ast.walk(tree):
        if not isinstance(loop, ast.For) or call not in list(ast.walk(loop)):
            continue
        target = loop.target
        first = target.elts[0] if isinstance(target, ast.Tuple) else target
        if (
            isinstance(first, ast.Name)
            and first.id == variable
            and isinstance(loop.iter, ast.Tuple | ast.List)
        ):
            names = [
                item.elts[0].value
                for item in loop.iter.elts
                if isinstance(item, ast.Tuple) and isinstance(item.elts[0], ast.Constant)
            ]
            if len(names) == len(loop.iter.elts):
                return names  # type: ignore[return-value]
    return None


def emitted() -> dict[str, set[str]]:
    """Every metric name in the code, with the helper that emits it."""
    found: dict[str, set[str]] = {}
    for path in SOURCES:
        if path == OBSERVABILITY:  # the helpers themselves pass names through
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for call in [node for node in ast.walk(tree) if isinstance(node, ast.Call)]:
            helper = _callee(call)
            if helper not in EMITTERS:
                continue
            argument = _name_argument(call)
            where = f"{path.relative_to(ROOT)}:{call.lineno}"
            if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                names = [argument.value]
            elif isinstance(argument, ast.Name):
                names = _loop_names(tree, call, argument.id) or []
                assert names, f"{where}: a metric name the test cannot read; spell it out"
            else:
                raise AssertionError(f"{where}: metric names must be literal strings")
            for name in names:
                found.setdefault(name, set()).add(helper)
    return found


def test_every_emitted_metric_is_declared_and_every_declared_one_is_emitted() -> None:
    names = emitted()
    assert set(names) - set(METRICS) == set(), "emitted but not declared (a typo?)"
    assert set(METRICS) - set(names) == set(), "declared but never emitted"
    assert "CasesRejected" in names and "CasesRejectd" not in names


def test_money_metrics_go_out_with_a_currency_and_only_they_do() -> None:
    names = emitted()
    assert {
        "CashbackCredited",
        "CashbackClawedBack",
        "CashbackRipened",
        "CashbackExpired",
        "CashbackHeld",
    } <= MONEY
    for name, helpers in names.items():
        if name in MONEY:
            assert helpers == {"count_money"}, name
        else:
            assert "count_money" not in helpers, name


def test_held_and_blocked_purchases_are_counted() -> None:
    assert {"PurchasesHeld", "PurchasesBlocked"} <= set(emitted())


def test_alarms_watch_metrics_the_code_emits_with_their_dimensions() -> None:
    template = load_template(ROOT / "template.yaml")
    namespace = template.document["Globals"]["Function"]["Environment"]["Variables"][
        "POWERTOOLS_METRICS_NAMESPACE"
    ]
    watched = []
    for resource in template.resources.values():
        if resource["Type"] != "AWS::CloudWatch::Alarm":
            continue
        alarm = resource["Properties"]
        watched += (
            [alarm]
            if "MetricName" in alarm
            else [q["MetricStat"]["Metric"] for q in alarm["Metrics"] if "MetricStat" in q]
        )
    ours = [m for m in watched if m["Namespace"] == namespace]
    assert {m["MetricName"] for m in ours} == {"LifecycleFailures", "InternalErrors", "KeysRefused"}
    for metric in ours:
        dimensions = {d["Name"] for d in metric["Dimensions"]}
        assert dimensions == {"service", *METRICS[metric["MetricName"]]}, metric


# ---- what the handlers print (CloudWatch embedded metric format) ----


def _documents(out: str) -> Iterator[dict[str, Any]]:
    for line in out.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            yield json.loads(line)


def _metrics(out: str) -> list[tuple[str, dict[str, str], float]]:
    """(name, dimensions, value) of every metric printed."""
    found = []
    for document in _documents(out):
        for directive in document["_aws"]["CloudWatchMetrics"]:
            assert directive["Namespace"] == "Cashback"
            (dimension_names,) = directive["Dimensions"]
            dimensions = {name: document[name] for name in dimension_names}
            for metric in directive["Metrics"]:
                value = document[metric["Name"]]  # a list when several were added
                found += [
                    (metric["Name"], dimensions, sum(value) if isinstance(value, list) else value)
                ]
    return found


def test_count_money_prints_its_own_document_with_the_currency(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "Cashback")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "cashback")
    count_money("CashbackCredited", 1299, "BRL")
    assert _metrics(capsys.readouterr().out) == [
        ("CashbackCredited", {"service": "cashback", "currency": "BRL"}, 1299)
    ]
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    count_money("CashbackCredited", 1299, "BRL")
    assert capsys.readouterr().out == ""


def test_handlers_emit_declared_metrics_with_declared_dimensions(
    functions: Functions,  # noqa: F811
    table: Store,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED")
    # The sample scheduled event's time is history: a deployed job refuses it.
    monkeypatch.setenv("CASHBACK_TIME_TRAVEL", "true")
    # The shared Metrics read its namespace and service when first imported, as in Lambda
    # (where the environment is set before): give them what template.yaml sets.
    monkeypatch.setattr(observability.metrics.provider, "namespace", "Cashback")
    monkeypatch.setattr(observability.metrics.provider, "service", "cashback")
    capsys.readouterr()
    assert functions.call("accrual", api_event("accrual/purchase.json"))["statusCode"] == 201
    assert functions.call("accrual", api_event("accrual/refund.json"))["statusCode"] == 201
    functions.call("expiry", load_event("expiry/scheduled.json"))
    with pytest.raises(Exception, match="^Unauthorized$"):
        functions.call("authorizer", load_event("authorizer/token.json"))
    # A storefront that denies this customer: the purchase is blocked.
    strict = TenantSettings(currency="BRL", backdate_days=3650)
    assert table.put_tenant("strict", strict, "2026-01-01T00:00:00Z")
    at = datetime(2026, 1, 1, tzinfo=UTC)
    table.put_list_entry(new_entry("strict", "deny_customer", "ana", "fraud", "cbk_test", at))
    blocked = api_event("accrual/purchase.json")
    blocked["requestContext"]["authorizer"]["tenant"] = "strict"
    body = json.loads(blocked["body"])
    blocked["body"] = json.dumps({**body, "customer_id": "ana"})
    reply = functions.call("accrual", blocked)
    assert json.loads(reply["body"])["status"] == "blocked", reply

    printed = _metrics(capsys.readouterr().out)
    for name, dimensions, _ in printed:
        assert name in METRICS, name
        assert set(dimensions) == {"service", *METRICS[name]}, (name, dimensions)
    values: dict[tuple[str, str], float] = {}
    for name, dimensions, value in printed:
        if name in MONEY:
            key = (name, dimensions["currency"])
            values[key] = values.get(key, 0) + value
    assert values[("CashbackCredited", "BRL")] == 1299
    assert values[("CashbackClawedBack", "BRL")] == 300
    assert values[("CashbackRipened", "BRL")] == 999
    assert values[("CashbackExpired", "BRL")] == 999
    names = [name for name, _, _ in printed]
    assert names.count("PurchasesRecorded") == 2
    assert names.count("PurchasesBlocked") == 1
    assert "KeysRefused" in names


def test_an_unexpected_error_answered_as_500_is_counted_for_its_function(
    functions: Functions,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "cashback-prod-RedemptionFunction-AbC")

    def broken(*_: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(functions.redemption.balances, "balance", broken)
    capsys.readouterr()
    reply = functions.call(
        "redemption", api_event("redemption/balance.json", after=datetime(2026, 3, 20, tzinfo=UTC))
    )
    assert reply["statusCode"] == 500
    assert _metrics(capsys.readouterr().out) == [
        (
            "InternalErrors",
            {"service": "cashback", "function": "cashback-prod-RedemptionFunction-AbC"},
            1,
        )
    ]
