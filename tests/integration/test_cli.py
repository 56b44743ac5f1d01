"""The `cashback` command: serve, keys and the ledger audit, as an operator runs them."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import boto3
import pytest
import requests

from cashback.adapters.dynamodb.store import Store
from cashback.adapters.dynamodb.table import customer_pk, entry_sk, to_item
from cashback_tools import cli
from cashback_tools.local.stack import TABLE_NAME, LocalStack

from .client import Api, now_iso, unique

ROOT = Path(__file__).resolve().parents[2]


def _table_args(stack: LocalStack) -> list[str]:
    return ["--table", TABLE_NAME, "--endpoint-url", stack.endpoint_url]


@pytest.fixture(scope="module")
def audited(stack: LocalStack) -> Api:
    """A tenant of its own, so tampering with it cannot disturb other tests."""
    keys = stack.add_tenant("audited", stack.settings, now_iso())
    return Api(stack.url, keys["storefront"])


def test_verify_passes_on_an_intact_ledger(
    stack: LocalStack, audited: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    customer = unique("cust")
    order = audited.purchase(customer, 10000).json()
    audited.refund(order["order_id"], 2500)
    code = cli.main(
        ["ledger", "verify", "--tenant", "audited", "--customer", customer, *_table_args(stack)]
    )
    assert code == 0
    assert "2 entries checked: intact" in capsys.readouterr().out


def test_verify_catches_an_edited_entry(
    stack: LocalStack, audited: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    customer = unique("cust")
    audited.purchase(customer, 10000)
    audited.purchase(customer, 20000)
    assert stack.store is not None
    # Someone with table access quietly raises the first entry's credit.
    stack.store.client.update_item(
        TableName=TABLE_NAME,
        Key=to_item({"pk": customer_pk("audited", customer), "sk": entry_sk(1)}),
        UpdateExpression="SET deltas.pending = :v",
        ExpressionAttributeValues=to_item({":v": 9999}),
    )
    code = cli.main(["ledger", "verify", "--tenant", "audited", *_table_args(stack)])
    out = capsys.readouterr().out
    assert code == 1
    assert f"{customer} entry 1: content does not match its hash (edited)" in out


def test_verify_catches_a_removed_entry(
    stack: LocalStack, audited: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    customer = unique("cust")
    for amount in (1000, 2000, 3000):
        audited.purchase(customer, amount)
    assert stack.store is not None
    stack.store.client.delete_item(
        TableName=TABLE_NAME,
        Key=to_item({"pk": customer_pk("audited", customer), "sk": entry_sk(2)}),
    )
    code = cli.main(
        ["ledger", "verify", "--tenant", "audited", "--customer", customer, *_table_args(stack)]
    )
    assert code == 1
    assert "an entry is missing" in capsys.readouterr().out


def test_keys_create_prints_a_key_that_works_once_shown(
    stack: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(
        ["keys", "create", "--tenant", "acme", "--scope", "storefront", *_table_args(stack)]
    )
    assert code == 0
    key = capsys.readouterr().out.strip()
    assert Api(stack.url, key).get("/v1/customers/c1/balance").status_code == 200
    assert cli.main(["keys", "revoke", "--key", key, *_table_args(stack)]) == 0
    assert Api(stack.url, key).get("/v1/customers/c1/balance").status_code == 401


def test_keys_create_for_an_unknown_tenant_fails_plainly(
    stack: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(
        ["keys", "create", "--tenant", "nobody", "--scope", "admin", *_table_args(stack)]
    )
    assert code == 1
    assert "no tenant nobody" in capsys.readouterr().err


def test_serve_runs_the_stack_writes_keys_and_stops_dynamodb_local(tmp_path: Path) -> None:
    keys_file = tmp_path / "keys.json"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cashback_tools.cli",
            "serve",
            "--port",
            "0",
            "--tenant",
            "shop-a",
            "--tenant",
            "shop-b",
            "--keys-file",
            str(keys_file),
            "--backdate-days",
            "90",
            "--quiet",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.startswith("Ready"):
                break
        url = next(line.split()[1] for line in lines if line.startswith("API"))
        keys = json.loads(keys_file.read_text())
        assert set(keys) == {"shop-a", "shop-b"}
        assert set(keys["shop-a"]) == {"storefront", "review", "admin"}
        assert oct(keys_file.stat().st_mode & 0o777) == "0o600"
        api = Api(url, keys["shop-a"]["storefront"])
        # --backdate-days 90 lets a storefront replay last month.
        old = api.purchase("c1", 10000, occurred_at=now_iso(-timedelta(days=60)))
        assert old.status_code == 201, old.text
        assert api.balance("c1")["pending"] == 500
        invoked = requests.post(
            f"{url}/2015-03-31/functions/AuthorizerFunction/invocations",
            json={
                "type": "TOKEN",
                "authorizationToken": "Bearer nope",
                "methodArn": "arn:aws:execute-api:us-east-1:0:a/live/GET/x",
            },
            timeout=10,
        )
        assert invoked.status_code == 200
        assert invoked.headers["X-Amz-Function-Error"] == "Unhandled"
        assert invoked.json()["errorMessage"] == "Unauthorized"
        dynamodb_line = next(line for line in lines if line.startswith("DynamoDB"))
        endpoint = dynamodb_line.split()[1]
        # serve's storefronts start in shadow mode, as `tenants create` makes them.
        tables = Store(
            TABLE_NAME, boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1")
        )
        settings = tables.get_tenant("shop-a")
        assert settings is not None and settings.risk_mode == "shadow"
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    assert process.returncode == 0
    with pytest.raises(requests.ConnectionError):
        requests.get(endpoint, timeout=2)


def test_tenants_create_starts_in_shadow_mode_and_refuses_a_second_time(
    stack: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    tenant = unique("new-shop")
    args = ["tenants", "create", "--tenant", tenant, "--currency", "BRL", *_table_args(stack)]
    assert cli.main(args) == 0
    created = json.loads(capsys.readouterr().out)
    assert (created["risk_mode"], created["cashback_rate"]) == ("shadow", "0.05")
    assert cli.main(args) == 1
    assert "already exists" in capsys.readouterr().err


def test_tenants_create_against_a_local_endpoint_needs_no_aws_setup(
    stack: LocalStack, tmp_path: Path
) -> None:
    # A new user with no AWS account: no AWS_* variables, no ~/.aws.
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    env["HOME"] = str(tmp_path)
    tenant = unique("fresh-shop")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "cashback_tools.cli",
            "tenants",
            "create",
            "--tenant",
            tenant,
            "--currency",
            "BRL",
            *_table_args(stack),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["tenant"] == tenant
    key = subprocess.run(
        [
            sys.executable,
            "-m",
            "cashback_tools.cli",
            "keys",
            "create",
            "--tenant",
            tenant,
            "--scope",
            "storefront",
            *_table_args(stack),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert key.returncode == 0, key.stderr
    assert Api(stack.url, key.stdout.strip()).get("/v1/customers/c1/balance").status_code == 200


def test_help_describes_every_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cashback_tools.cli", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    for command in ("serve", "tenants", "keys", "ledger", "model", "demo"):
        (line,) = [line for line in result.stdout.splitlines() if line.split()[:1] == [command]]
        assert len(line.split()) > 1, f"`{command}` has no description in --help"
    # Every subcommand at every level says what it does.
    pending = [cli.parser()]
    while pending:
        parser = pending.pop()
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                described = {choice.dest: choice.help for choice in action._choices_actions}
                for name, child in action.choices.items():
                    assert described.get(name), f"{parser.prog} {name} has no help text"
                    pending.append(child)


def test_serve_and_tenants_create_start_storefronts_in_the_same_risk_mode() -> None:
    serve = cli.parser().parse_args(["serve"])
    create = cli.parser().parse_args(["tenants", "create", "--tenant", "t", "--currency", "BRL"])
    assert serve.risk_mode == create.risk_mode == "shadow"
    assert cli.parser().parse_args(["serve", "--risk-mode", "enforce"]).risk_mode == "enforce"
    assert cli.parser().parse_args(["serve", "--port", "8080"]).port == 8080


def test_make_serve_takes_a_port() -> None:
    result = subprocess.run(
        ["make", "-n", "serve", "PORT=8080"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "cashback serve --port 8080 " in result.stdout
