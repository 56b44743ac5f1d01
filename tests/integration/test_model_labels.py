"""`cashback model labels` against the local stack: cases analysts decide through the API
come out as labels, with their close reason, analyst and notes (issue 11)."""

from __future__ import annotations

from pathlib import Path

from cashback.domain.risk.features import FEATURE_NAMES
from cashback.domain.tenants import TenantSettings
from cashback_tools import cli
from cashback_tools.labels import read_labels
from cashback_tools.local.stack import TABLE_NAME, LocalStack

from .client import Api, now_iso, unique


def test_decided_cases_export_as_labels(stack: LocalStack, tmp_path: Path) -> None:
    tenant = unique("labels")
    keys = stack.add_tenant(tenant, TenantSettings(currency="BRL"), now_iso())
    shop, analyst = Api(stack.url, keys["storefront"]), Api(stack.url, keys["review"])
    customer = unique("burst")
    replies = [shop.purchase(customer, 30000 + i, device_id="dev-1").json() for i in range(8)]
    held = [reply["order_id"] for reply in replies if reply["status"] == "held"]
    assert len(held) >= 2, "the burst should have been held"
    note = analyst.post(f"/v1/reviews/{held[0]}/notes", {"text": "eight orders in an hour"})
    assert note.status_code == 201
    decisions = {
        held[0]: {"decision": "reject", "reason": "velocity", "note": "a burst"},
        held[1]: {"decision": "approve"},
    }
    for order_id, body in decisions.items():
        assert analyst.post(f"/v1/reviews/{order_id}/decision", body).status_code == 200
    out = tmp_path / "labels.jsonl"
    args = ["--table", TABLE_NAME, "--endpoint-url", stack.endpoint_url, "--out", str(out)]
    assert cli.main(["model", "labels", "--tenant", tenant, *args]) == 0
    rows = {row["order_id"]: row for row in read_labels(out)}
    assert set(rows) == set(decisions)
    rejected, approved = rows[held[0]], rows[held[1]]
    assert (rejected["decision"], rejected["reason"]) == ("reject", "velocity")
    assert (approved["decision"], approved["reason"]) == ("approve", None)
    assert rejected["tenant"] == tenant and rejected["customer_id"] == customer
    assert [n["text"] for n in rejected["notes"]] == ["eight orders in an hour"]
    assert rejected["analyst"] and rejected["decided_at"] and rejected["model_version"]
    if rejected["features"] is not None:
        assert list(rejected["features"]) == list(FEATURE_NAMES)
