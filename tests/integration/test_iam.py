"""IAM as AWS enforces it: the functions' DynamoDB endpoint checks each call against the
calling function's policy statements in template.yaml (the access key id names the
function), and the rules publisher has what resizing a campaign budget needs."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from cashback.adapters.dynamodb.store import Store
from cashback.adapters.dynamodb.table import to_item
from cashback.domain.rules.ruleset import RuleSet
from cashback.services import programs
from cashback_tools.local.gateway import LocalGateway
from cashback_tools.local.iam import Policies, event_bus_arn, table_arn
from cashback_tools.local.iam_proxy import IamProxy
from cashback_tools.local.stack import TABLE_NAME, LocalStack
from cashback_tools.local.template import Template

from .client import Api, now_iso, unique
from .test_rules_api import _naive, program

TABLE_ARN = table_arn(TABLE_NAME)
REFS = {
    "LedgerTable.Arn": TABLE_ARN,
    "CashbackEventBus.Arn": event_bus_arn("x"),
}


def _client(endpoint: str, access_key_id: str) -> Any:
    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=access_key_id,
        aws_secret_access_key="local",
    )


def _account_key(tenant: str, customer: str) -> dict[str, Any]:
    return to_item({"pk": f"CUST#{tenant}#{customer}", "sk": "ACCOUNT"})


def test_a_call_the_policy_does_not_allow_is_access_denied_as_on_aws(stack: LocalStack) -> None:
    admin = _client(stack.iam_endpoint_url, "AdminFunction")
    key = to_item({"pk": f"PROBE#{unique('p')}", "sk": "PROBE"})
    # Allowed by AdminFunction's statements: forwarded to DynamoDB Local as they are.
    admin.put_item(TableName=TABLE_NAME, Item={**key, "n": {"N": "1"}})
    admin.update_item(
        TableName=TABLE_NAME,
        Key=key,
        UpdateExpression="SET n = n + :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
    )
    assert admin.get_item(TableName=TABLE_NAME, Key=key)["Item"]["n"] == {"N": "2"}
    # Not allowed: what DynamoDB answers, and nothing changes.
    for call in (
        lambda: admin.delete_item(TableName=TABLE_NAME, Key=key),
        lambda: admin.batch_get_item(RequestItems={TABLE_NAME: {"Keys": [key]}}),
    ):
        with pytest.raises(ClientError) as denied:
            call()
        error = denied.value.response
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert error["Error"]["Code"] == "AccessDeniedException"
    assert error["Error"]["Message"] == (
        "User: arn:aws:sts::000000000000:assumed-role/AdminFunction-role/AdminFunction is not "
        f"authorized to perform: dynamodb:BatchGetItem on resource: {TABLE_ARN} because no "
        "identity-based policy allows the dynamodb:BatchGetItem action"
    )
    assert admin.get_item(TableName=TABLE_NAME, Key=key)["Item"]["n"] == {"N": "2"}
    assert {
        "principal": "AdminFunction",
        "action": "dynamodb:DeleteItem",
        "resource": TABLE_ARN,
    } in stack.iam_denials


def test_the_key_reader_cannot_update_and_the_spender_reads_no_queue(stack: LocalStack) -> None:
    keys_reader = _client(stack.iam_endpoint_url, "AuthorizerFunction")
    with pytest.raises(ClientError) as denied:  # refused, so nothing is written
        keys_reader.update_item(
            TableName=TABLE_NAME,
            Key=_account_key("acme", unique("c")),
            UpdateExpression="SET pending = :z",
            ExpressionAttributeValues={":z": {"N": "0"}},
        )
    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "dynamodb:UpdateItem" in denied.value.response["Error"]["Message"]
    reader = _client(stack.iam_endpoint_url, "RedemptionFunction")
    with pytest.raises(ClientError) as denied:
        reader.query(
            TableName=TABLE_NAME,
            IndexName="queue",
            KeyConditionExpression="queue_pk = :q",
            ExpressionAttributeValues={":q": {"S": "REVIEW#acme"}},
        )
    assert f"on resource: {TABLE_ARN}/index/queue " in denied.value.response["Error"]["Message"]
    # The analysts' function reads that index, and only that one.
    review = _client(stack.iam_endpoint_url, "ReviewFunction")
    review.query(
        TableName=TABLE_NAME,
        IndexName="queue",
        KeyConditionExpression="queue_pk = :q",
        ExpressionAttributeValues={":q": {"S": "REVIEW#acme"}},
    )
    with pytest.raises(ClientError):
        review.query(
            TableName=TABLE_NAME,
            IndexName="due",
            KeyConditionExpression="due_bucket = :b",
            ExpressionAttributeValues={":b": {"S": "DUE#2026-01-01#00"}},
        )


def test_a_transaction_needs_every_items_action(stack: LocalStack) -> None:
    # Items of no tenant's: the ledger audits of the shared tenants must not see them.
    put_key, update_key = (to_item({"pk": f"PROBE#{unique('p')}", "sk": "PROBE"}) for _ in range(2))
    items = [
        {"Put": {"TableName": TABLE_NAME, "Item": put_key}},
        {
            "Update": {
                "TableName": TABLE_NAME,
                "Key": update_key,
                "UpdateExpression": "SET probe = :one",
                "ExpressionAttributeValues": {":one": {"N": "1"}},
            }
        },
    ]
    # The authorizer may only read: the whole transaction is refused, nothing is written.
    with pytest.raises(ClientError) as denied:
        _client(stack.iam_endpoint_url, "AuthorizerFunction").transact_write_items(
            TransactItems=items
        )
    assert "dynamodb:PutItem" in denied.value.response["Error"]["Message"]
    direct = _client(stack.endpoint_url, "local")
    assert "Item" not in direct.get_item(TableName=TABLE_NAME, Key=update_key)
    # ConditionCheckItem is granted to no function: nothing here condition-checks alone.
    check = [
        {
            "ConditionCheck": {
                "TableName": TABLE_NAME,
                "Key": update_key,
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
    ]
    with pytest.raises(ClientError) as denied:
        _client(stack.iam_endpoint_url, "AccrualFunction").transact_write_items(TransactItems=check)
    assert "dynamodb:ConditionCheckItem" in denied.value.response["Error"]["Message"]
    _client(stack.iam_endpoint_url, "AccrualFunction").transact_write_items(TransactItems=items)
    assert direct.get_item(TableName=TABLE_NAME, Key=update_key)["Item"]["probe"] == {"N": "1"}


def test_the_event_bus_takes_events_only_from_the_lifecycle_job(stack: LocalStack) -> None:
    def events(access_key_id: str) -> Any:
        return boto3.client(
            "events",
            endpoint_url=stack.url,
            region_name="us-east-1",
            aws_access_key_id=access_key_id,
            aws_secret_access_key="local",
        )

    entry = {
        "Source": "cashback",
        "DetailType": "probe",
        "Detail": "{}",
        "EventBusName": "cashback-local",
    }
    with pytest.raises(ClientError) as denied:
        events("AccrualFunction").put_events(Entries=[entry])
    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
    assert (
        f"events:PutEvents on resource: {event_bus_arn('cashback-local')}"
        in denied.value.response["Error"]["Message"]
    )
    assert events("ExpiryFunction").put_events(Entries=[entry])["FailedEntryCount"] == 0
    # The job's policy names its own bus, not the account's default one.
    with pytest.raises(ClientError):
        events("ExpiryFunction").put_events(Entries=[{**entry, "EventBusName": "default"}])


FLASH = {
    "id": "flash",
    "name": "Flash",
    "starts_at": _naive(timedelta(days=-1)),
    "ends_at": _naive(timedelta(days=1)),
    "rate": "0.10",
    "stacking": "add",
}


def test_publishing_a_new_budget_resizes_the_shards_through_the_api(stack: LocalStack) -> None:
    """Once each function signs with its own logical id, this runs AdminFunction under its
    template policy: the resize needs dynamodb:UpdateItem (AccessDenied, a 500 and an extra
    version on retry without it)."""
    tenant = unique("shop")
    admin = Api(stack.url, stack.add_tenant(tenant, stack.settings, now_iso())["admin"])
    denied_before = len(stack.iam_denials)
    first = admin.session.put(
        f"{stack.url}/v1/rules", json=program(campaigns=[{**FLASH, "budget": 1000}]), timeout=30
    )
    assert first.status_code == 201, first.text
    second = admin.session.put(
        f"{stack.url}/v1/rules", json=program(campaigns=[{**FLASH, "budget": 2500}]), timeout=30
    )
    assert second.status_code == 201, second.text
    assert second.json()["version"] == 2
    assert stack.store is not None
    shards = stack.store.budget_shards(tenant, "flash")
    assert sum(s["allowance"] for s in shards) == 2500
    assert sum(s["remaining"] for s in shards) == 2500
    # The same program again (a retry after a lost reply) is the same version, not a third.
    again = admin.session.put(
        f"{stack.url}/v1/rules", json=program(campaigns=[{**FLASH, "budget": 2500}]), timeout=30
    )
    assert again.status_code == 201 and again.json() == second.json()
    assert [v["version"] for v in stack.store.rule_versions(tenant)] == [1, 2]
    assert stack.iam_denials[denied_before:] == []


def _without_update_item(template: Template) -> Template:
    """The template as it was: AdminFunction without dynamodb:UpdateItem."""
    document = copy.deepcopy(template.document)
    for policy in document["Resources"]["AdminFunction"]["Properties"]["Policies"]:
        for statement in policy["Statement"]:
            statement["Action"] = [a for a in statement["Action"] if a != "dynamodb:UpdateItem"]
    return Template(document=document, directory=template.directory)


def test_over_http_a_function_without_an_action_its_code_calls_fails_as_on_aws(
    stack: LocalStack,
) -> None:
    """The whole path, as a storefront saw it on AWS before the fix: the local stack's
    functions under the template as it was (AdminFunction without dynamodb:UpdateItem).
    Publishing a budget change is denied at DynamoDB and answered 500; nothing of the new
    version is written, and the stack records which call IAM refused."""
    assert stack.template is not None
    old = _without_update_item(stack.template)
    policies = Policies.from_template(old, REFS)
    tenant = unique("shop")
    admin_key = stack.add_tenant(tenant, stack.settings, now_iso())["admin"]
    with (
        IamProxy(stack.endpoint_url, policies) as proxy,
        LocalGateway(
            old,
            {**stack.function_environment, "AWS_ENDPOINT_URL_DYNAMODB": proxy.url},
            quiet=True,
            refs={"LedgerTable": TABLE_NAME},
            policies=policies,
            throttling=False,
        ) as gateway,
    ):
        admin = Api(gateway.url, admin_key)
        first = admin.session.put(
            f"{gateway.url}/v1/rules",
            json=program(campaigns=[{**FLASH, "budget": 1000}]),
            timeout=60,
        )
        assert first.status_code == 201, first.text
        bigger = admin.session.put(
            f"{gateway.url}/v1/rules",
            json=program(campaigns=[{**FLASH, "budget": 3000}]),
            timeout=60,
        )
        assert (bigger.status_code, bigger.json()["code"]) == (500, "internal_error")
        assert [(d["principal"], d["action"]) for d in proxy.denials] == [
            ("AdminFunction", "dynamodb:UpdateItem")
        ]
    assert stack.store is not None
    assert [v["version"] for v in stack.store.rule_versions(tenant)] == [1]
    assert sum(s["allowance"] for s in stack.store.budget_shards(tenant, "flash")) == 1000


@pytest.mark.parametrize("old_policy", [True, False], ids=["old-policy", "template"])
def test_the_rules_publisher_under_its_policy(stack: LocalStack, old_policy: bool) -> None:
    """The publisher's code path with AdminFunction's credentials: under the old policy the
    budget resize is AccessDenied, and (budgets first) no version was written."""
    assert stack.template is not None
    template = _without_update_item(stack.template) if old_policy else stack.template
    policies = Policies.from_template(template, REFS)
    tenant = unique("shop")
    stack.add_tenant(tenant, stack.settings, now_iso())
    with IamProxy(stack.endpoint_url, policies) as proxy:
        store = Store(TABLE_NAME, _client(proxy.url, "AdminFunction"))
        first = RuleSet.model_validate(program(campaigns=[{**FLASH, "budget": 1000}]))
        bigger = RuleSet.model_validate(program(campaigns=[{**FLASH, "budget": 3000}]))
        programs.publish(store, tenant, "BRL", first, "k", _now())
        if old_policy:
            with pytest.raises(ClientError) as denied:
                programs.publish(store, tenant, "BRL", bigger, "k", _now())
            assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
            assert "dynamodb:UpdateItem" in denied.value.response["Error"]["Message"]
            expected_versions, expected_budget = [1], 1000
        else:
            assert programs.publish(store, tenant, "BRL", bigger, "k", _now())["version"] == 2
            expected_versions, expected_budget = [1, 2], 3000
    assert stack.store is not None
    assert [v["version"] for v in stack.store.rule_versions(tenant)] == expected_versions
    shards = stack.store.budget_shards(tenant, "flash")
    assert sum(s["allowance"] for s in shards) == expected_budget


def _now() -> datetime:
    return datetime.now(UTC)
