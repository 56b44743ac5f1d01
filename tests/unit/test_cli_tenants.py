"""`cashback tenants create` on AWS: the tenant's own API key on the tenants' usage plan."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from cashback.adapters.dynamodb.store import Store
from cashback.services import keys
from cashback_tools import cli
from cashback_tools.local.template import load_template

ROOT = Path(__file__).resolve().parents[2]
TABLE = "cashback-test"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A table and a usage plan in moto's AWS; yields the plan's id."""
    for name, value in (
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "x"),
        ("AWS_SECRET_ACCESS_KEY", "x"),
    ):
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL_DYNAMODB", raising=False)
    monkeypatch.delenv("USAGE_PLAN_ID", raising=False)
    with mock_aws():
        template = load_template(ROOT / "template.yaml")
        boto3.client("dynamodb").create_table(**template.table_create_params(table_name=TABLE))
        plan = boto3.client("apigateway").create_usage_plan(
            name="tenants", throttle={"rateLimit": 50.0, "burstLimit": 100}
        )
        yield plan["id"]


def test_a_new_tenant_gets_its_own_key_on_the_usage_plan(
    aws: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        cli.main(
            [
                "tenants",
                "create",
                "--tenant",
                "shop",
                "--currency",
                "BRL",
                "--table",
                TABLE,
                "--usage-plan-id",
                aws,
            ]
        )
        == 0
    )
    gateway = boto3.client("apigateway")
    [plan_key] = gateway.get_usage_plan_keys(usagePlanId=aws)["items"]
    store = Store(TABLE, boto3.client("dynamodb"))
    assert store.tenant_usage_key("shop") == plan_key["value"]
    # Every Bearer key of the tenant carries it, for the authorizer's one read.
    assert (
        cli.main(["keys", "create", "--tenant", "shop", "--scope", "storefront", "--table", TABLE])
        == 0
    )
    key = capsys.readouterr().out.strip().splitlines()[-1]
    principal = keys.authenticate(store, f"Bearer {key}")
    assert principal is not None and principal.usage_key == plan_key["value"]
    # A second create changes nothing and leaves no API key behind.
    assert (
        cli.main(
            [
                "tenants",
                "create",
                "--tenant",
                "shop",
                "--currency",
                "BRL",
                "--table",
                TABLE,
                "--usage-plan-id",
                aws,
            ]
        )
        == 1
    )
    assert len(gateway.get_api_keys()["items"]) == 1


def test_on_aws_the_usage_plan_must_be_named(aws: str) -> None:
    with pytest.raises(SystemExit, match="--usage-plan-id"):
        cli.main(["tenants", "create", "--tenant", "shop", "--currency", "BRL", "--table", TABLE])
    assert Store(TABLE, boto3.client("dynamodb")).get_tenant("shop") is None
