"""Labels (issue 11): decided cases export as JSON Lines by a pure function, and the rule
that tunes thresholds from them does what the model's docs say."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cashback.domain.risk.features import FEATURE_NAMES
from cashback_tools import cli
from cashback_tools.labels import label_row, label_rows, read_labels, write_labels
from models.refund_abuse.labelled import MIN_LABELS, held_out, labels_from_rows, tune

FEATURES = [f"{0.5 + i / 7:.6g}" for i in range(len(FEATURE_NAMES))]


def _order(order_id: str = "o-1", **decision: Any) -> dict[str, Any]:
    return {
        "tenant": "shop",
        "order_id": order_id,
        "customer_id": "c-1",
        "occurred_at": "2026-11-02T10:00:00Z",
        "amount": 30000,
        "cashback": 1500,
        "status": "rejected",
        "risk": {
            "score": "0.712345",
            "model_version": "refund-abuse-abc",
            "rules_fired": ["velocity_24h"],
            "reasons": ["8 orders in 24 hours"],
            "features": FEATURES,
        },
        "decision": {
            "decision": "reject",
            "reason": "velocity",
            "note": "a burst",
            "by": "key-ana",
            "at": "2026-11-02T12:00:00Z",
            "request_hash": "x",
            "reply": "{}",
        }
        | decision,
    }


def test_a_decided_case_becomes_one_label_with_named_features_and_its_notes() -> None:
    notes = [
        {
            "pk": "ORDER#shop#o-1",
            "sk": "NOTE#2",
            "by": "key-bo",
            "at": "2026-11-02T11:30:00Z",
            "text": "second",
        },
        {
            "pk": "ORDER#shop#o-1",
            "sk": "NOTE#1",
            "by": "key-ana",
            "at": "2026-11-02T11:00:00Z",
            "text": "first",
        },
    ]
    row = label_row(_order(), notes)
    assert list(row) == [
        "tenant", "order_id", "customer_id", "occurred_at", "amount", "cashback", "features",
        "score", "model_version", "rules_fired", "decision", "reason", "analyst", "decided_at",
        "notes",
    ]  # fmt: skip
    assert list(row["features"]) == list(FEATURE_NAMES)
    assert row["features"]["amount_vs_median_log2"] == pytest.approx(0.5)
    assert (row["score"], row["model_version"], row["rules_fired"]) == (
        0.712345,
        "refund-abuse-abc",
        ["velocity_24h"],
    )
    assert (row["decision"], row["reason"], row["analyst"], row["decided_at"]) == (
        "reject",
        "velocity",
        "key-ana",
        "2026-11-02T12:00:00Z",
    )
    assert [n["text"] for n in row["notes"]] == ["first", "second"]
    assert set(row["notes"][0]) == {"by", "at", "text"}
    json.dumps(row)  # plain JSON: no Decimals, no dataclasses


def test_cases_without_a_reason_or_features_still_export() -> None:
    order = _order()
    del order["decision"]["reason"]
    order["risk"] = {"score": None, "model_version": "none", "rules_fired": []}
    row = label_row(order)
    assert (row["reason"], row["features"], row["score"], row["notes"]) == (None, None, None, [])


def test_open_cases_are_not_labels() -> None:
    open_case = _order("o-2")
    open_case["decision"] = None
    with pytest.raises(ValueError):
        label_row(open_case)
    rows = label_rows(
        [_order("o-3", at="2026-11-03T00:00:00Z"), open_case, _order("o-1", decision="approve")],
        {"o-1": [{"by": "a", "at": "t", "text": "n"}]},
    )
    assert [(r["order_id"], r["decision"], len(r["notes"])) for r in rows] == [
        ("o-1", "approve", 1),
        ("o-3", "reject", 0),
    ]


def test_labels_round_trip_through_json_lines(tmp_path: Path) -> None:
    out = io.StringIO()
    assert write_labels(label_rows([_order("o-1"), _order("o-2")], {}), out) == 2
    path = tmp_path / "labels.jsonl"
    path.write_text(out.getvalue() + "\n")
    labels = labels_from_rows(read_labels(path))
    assert labels.order_ids == ["o-1", "o-2"]
    assert labels.X.shape == (2, len(FEATURE_NAMES)) and labels.rejected.all()


def test_training_reads_each_case_once_the_latest_decision_winning() -> None:
    rows = label_rows([_order("o-1"), _order("o-2")], {})
    later = label_row(_order("o-1", decision="approve", at="2026-11-09T00:00:00Z"))
    no_features = label_row(_order("o-9") | {"risk": {}})
    labels = labels_from_rows([*rows, later, no_features])
    assert labels.order_ids == ["o-1", "o-2"]
    assert labels.rejected.tolist() == [False, True]
    assert labels.skipped == 1


def test_the_held_out_fifth_is_stable_whatever_the_order() -> None:
    ids = [f"order-{i}" for i in range(2000)]
    split = held_out(ids)
    assert 0.17 < split.mean() < 0.23
    assert held_out(ids[::-1]).tolist() == split[::-1].tolist()


def _tune(rejected_above: float, target: float = 0.5) -> Any:
    rng = np.random.default_rng(1)
    traffic = rng.uniform(0, 1, 10_000)  # capacity (2%) at about 0.98
    label_risk = np.linspace(0.97, 1.0, 200)
    # Analysts reject the riskiest cases; `rejected_above` of those above the capacity.
    rejected = label_risk > 1.0 - 0.02 * rejected_above
    return tune(traffic, label_risk, rejected, 0.02, target), float(np.quantile(traffic, 0.98))


def test_thresholds_stay_at_capacity_when_the_queue_meets_the_precision_target() -> None:
    tuned, capacity = _tune(rejected_above=0.8)
    assert tuned.threshold == capacity == tuned.capacity
    assert tuned.precision is not None and tuned.precision >= 0.5 and tuned.rule == "capacity"


def test_thresholds_rise_until_the_labelled_queue_meets_the_target() -> None:
    tuned, capacity = _tune(rejected_above=0.3)
    assert tuned.threshold > capacity
    assert tuned.precision is not None and tuned.precision >= 0.5
    assert tuned.rule == "raised to meet the precision target"
    assert tuned.labelled_above >= MIN_LABELS


def test_thresholds_stop_rising_when_too_few_labels_remain_to_judge() -> None:
    tuned, capacity = _tune(rejected_above=0.0)  # analysts approve everything
    assert tuned.threshold > capacity
    assert tuned.labelled_above == MIN_LABELS
    assert tuned.rule.startswith("target not met")


def test_cashback_model_labels_writes_a_tenants_decided_cases(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    class Store:
        def review_list(self, tenant: str, state: str, sort: str, limit: int, cursor: Any) -> Any:
            assert (tenant, sort) == ("shop", "age")
            decision = "approve" if state == "approved" else "reject"
            return [_order(f"{state}-1", decision=decision)], None

        def case_file(self, tenant: str, order_id: str) -> Any:
            return None, []

    monkeypatch.setattr(cli, "_store", lambda args: Store())
    out = tmp_path / "labels.jsonl"
    assert cli.main(["model", "labels", "--tenant", "shop", "--out", str(out)]) == 0
    rows = read_labels(out)
    assert sorted((r["order_id"], r["decision"]) for r in rows) == [
        ("approved-1", "approve"),
        ("rejected-1", "reject"),
    ]
    assert "2 labels of shop" in capsys.readouterr().err
