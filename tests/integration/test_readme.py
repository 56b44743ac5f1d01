"""The README's curl example must work against the local stack as written."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from cashback.domain.tenants import TenantSettings
from cashback_tools.local.stack import LocalStack

from .client import now_iso, unique

ROOT = Path(__file__).resolve().parents[2]


def test_readme_curl_example_works_against_the_local_stack(
    stack: LocalStack, tmp_path: Path
) -> None:
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- curl-example.*?```sh\n(.*?)```", readme, re.S)
    assert block, "the README lost its curl example"
    keys_file = tmp_path / "keys.json"
    keys_file.write_text(json.dumps({"demo": stack.add_tenant("demo", stack.settings, now_iso())}))
    script = (
        block.group(1)
        .replace("http://127.0.0.1:3000", stack.url)
        .replace(".local/keys.json", str(keys_file))
    )
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    replies, text, decoder = [], result.stdout.strip(), json.JSONDecoder()
    while text:  # curl prints the JSON replies back to back
        reply, end = decoder.raw_decode(text)
        replies.append(reply)
        text = text[end:].strip()
    purchase, refund, balance, entries = replies
    assert (purchase["status"], purchase["cashback"]) == ("pending", 1299)
    assert (refund["clawed_back"], refund["from_pending"]) == (300, 300)
    assert (balance["pending"], balance["next_expiry"]["amount"]) == (999, 999)
    assert balance["next_deadlines"] == [balance["next_expiry"]]
    assert [e["kind"] for e in entries["items"]] == ["refund", "purchase"]


def test_readme_rules_example_publishes_with_the_admin_key_it_defines(
    stack: LocalStack, tmp_path: Path
) -> None:
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- rules-example.*?```sh\n(.*?)```", readme, re.S)
    assert block, "the README lost its rules example"
    tenant = unique("rules-readme")
    keys_file = tmp_path / "keys.json"
    keys_file.write_text(json.dumps({"demo": stack.add_tenant(tenant, stack.settings, now_iso())}))
    script = (
        block.group(1)
        .replace("http://127.0.0.1:3000", stack.url)
        .replace(".local/keys.json", str(keys_file))
    )
    # -u: a variable the block uses without defining it fails here, as it would a reader.
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    reply = json.loads(result.stdout)
    assert reply["version"] == 1
    assert reply["published_by"].startswith("cbk_")
    assert stack.store is not None
    assert [r["version"] for r in stack.store.rule_versions(tenant)] == [1]


def test_readme_money_example_spends_holds_and_pays_out(stack: LocalStack, tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- money-example.*?```sh\n(.*?)```", readme, re.S)
    assert block, "the README lost its money example"
    tenant = unique("money-readme")
    settings = TenantSettings(currency="BRL", backdate_days=60, risk_mode="shadow")
    keys_file = tmp_path / "keys.json"
    keys_file.write_text(json.dumps({"demo": stack.add_tenant(tenant, settings, now_iso())}))
    script = (
        block.group(1)
        .replace("http://127.0.0.1:3000", stack.url)
        .replace(".local/keys.json", str(keys_file))
        .replace("TENANT=demo", f"TENANT={tenant}")
    )
    assert stack.template is not None
    secret = stack.template.parameter_defaults()["PayoutCallbackSecret"]
    assert f"SECRET={secret} " in script  # the example signs with the template's default
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    replies, text, decoder = [], result.stdout.strip(), json.JSONDecoder()
    while text:
        reply, end = decoder.raw_decode(text)
        replies.append(reply)
        text = text[end:].strip()
    (purchase, lifecycle, hold, capture, reversal, redemption, hold2, cancel2) = replies[:8]
    (payout, payout2, cancel_payout, job, status, callback, balance) = replies[8:]
    assert purchase["cashback"] == 5000 and lifecycle["lots_ripened"] >= 1
    assert hold["status"] == "reserved" and hold["balance"]["available"] == 3500
    assert hold["lots"][0]["order_id"] == "ord-2001"
    assert capture["captured"] == 1200 and capture["balance"]["available"] == 3800
    assert reversal["reversal"]["amount"] == 600 and reversal["balance"]["available"] == 4400
    assert (redemption["captured"], redemption["reversed"]) == (1200, 600)
    assert hold2["status"] == "reserved" and cancel2["status"] == "canceled"
    assert cancel2["balance"]["available"] == 4400
    assert payout["status"] == "requested" and payout["balance"]["reserved"] == 2000
    assert payout["destination"] == {"key_type": "cpf", "key": "***.456.789-**"}
    assert payout2["status"] == "requested" and cancel_payout["status"] == "canceled"
    assert cancel_payout["balance"]["available"] == 2400
    assert job["submitted"] >= 1 and status["status"] == "submitted"
    assert callback == {"payout_id": f"{tenant}:pay-5001", "status": "paid"}
    assert (balance["available"], balance["reserved"]) == (2400, 0)
    assert (balance["spent"], balance["paid_out"]) == (600, 2000)
