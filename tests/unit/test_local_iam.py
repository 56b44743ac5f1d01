"""The local stack's IAM: the actions and resources each DynamoDB call needs, and policy
evaluation as AWS does it (explicit deny wins, otherwise some allow must match)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cashback_tools.local.iam import (
    Policies,
    Policy,
    access_denied_body,
    access_key_id,
    dynamodb_needs,
    event_bus_arn,
    table_arn,
)
from cashback_tools.local.template import TemplateError, load_template

ROOT = Path(__file__).resolve().parents[2]
T = table_arn("cashback-local")
TARGET = "DynamoDB_20120810."


def test_item_calls_need_their_own_action_on_the_table() -> None:
    for op in ("GetItem", "PutItem", "UpdateItem", "DeleteItem", "DescribeTable"):
        assert dynamodb_needs(TARGET + op, {"TableName": "cashback-local"}) == [
            (f"dynamodb:{op}", T)
        ]


def test_query_and_scan_with_an_index_need_the_index_arn() -> None:
    assert dynamodb_needs(
        TARGET + "Query", {"TableName": "cashback-local", "IndexName": "queue"}
    ) == [("dynamodb:Query", f"{T}/index/queue")]
    assert dynamodb_needs(TARGET + "Scan", {"TableName": "cashback-local", "IndexName": "due"}) == [
        ("dynamodb:Scan", f"{T}/index/due")
    ]
    assert dynamodb_needs(TARGET + "Query", {"TableName": "cashback-local"}) == [
        ("dynamodb:Query", T)
    ]


def test_transactions_need_each_items_action_on_its_table() -> None:
    body = {
        "TransactItems": [
            {"Put": {"TableName": "cashback-local", "Item": {}}},
            {"Update": {"TableName": "other", "Key": {}}},
            {"ConditionCheck": {"TableName": "cashback-local", "Key": {}}},
            {"Delete": {"TableName": "cashback-local", "Key": {}}},
            {"Put": {"TableName": "cashback-local", "Item": {}}},
        ]
    }
    assert dynamodb_needs(TARGET + "TransactWriteItems", body) == [
        ("dynamodb:PutItem", T),
        ("dynamodb:UpdateItem", table_arn("other")),
        ("dynamodb:ConditionCheckItem", T),
        ("dynamodb:DeleteItem", T),
    ]
    gets = {"TransactItems": [{"Get": {"TableName": "cashback-local", "Key": {}}}]}
    assert dynamodb_needs(TARGET + "TransactGetItems", gets) == [("dynamodb:GetItem", T)]


def test_batches_need_the_batch_action_on_every_table_named() -> None:
    body = {"RequestItems": {"cashback-local": {"Keys": []}, "other": {"Keys": []}}}
    assert dynamodb_needs(TARGET + "BatchGetItem", body) == [
        ("dynamodb:BatchGetItem", T),
        ("dynamodb:BatchGetItem", table_arn("other")),
    ]
    assert dynamodb_needs(TARGET + "BatchWriteItem", {"RequestItems": {"t": []}}) == [
        ("dynamodb:BatchWriteItem", table_arn("t"))
    ]
    assert dynamodb_needs(TARGET + "ListTables", {}) == [("dynamodb:ListTables", "*")]


def test_an_allow_on_the_table_does_not_cover_its_indexes() -> None:
    policy = Policy.of([{"Effect": "Allow", "Action": ["dynamodb:Query"], "Resource": T}])
    assert policy.decide("dynamodb:Query", T) == "Allow"
    assert policy.decide("dynamodb:Query", f"{T}/index/due") == "ImplicitDeny"
    assert policy.decide("dynamodb:UpdateItem", T) == "ImplicitDeny"


def test_wildcards_match_actions_case_insensitively_and_resources_exactly() -> None:
    policy = Policy.of([{"Effect": "Allow", "Action": "DynamoDB:Get*", "Resource": f"{T}/index/*"}])
    assert policy.decide("dynamodb:GetItem", f"{T}/index/queue") == "Allow"
    assert policy.decide("dynamodb:GetItem", T) == "ImplicitDeny"
    assert policy.decide("dynamodb:GetItem", f"{T.upper()}/index/queue") == "ImplicitDeny"
    single = Policy.of([{"Effect": "Allow", "Action": "dynamodb:?etItem", "Resource": "*"}])
    assert single.decide("dynamodb:GetItem", T) == "Allow"
    assert single.decide("dynamodb:BatchGetItem", T) == "ImplicitDeny"


def test_an_explicit_deny_wins_over_any_allow() -> None:
    policy = Policy.of(
        [
            {"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"},
            {"Effect": "Deny", "Action": "dynamodb:DeleteItem", "Resource": T},
        ]
    )
    assert policy.decide("dynamodb:PutItem", T) == "Allow"
    assert policy.decide("dynamodb:DeleteItem", T) == "Deny"
    assert policy.decide("dynamodb:DeleteItem", table_arn("other")) == "Allow"


def test_not_action_and_not_resource() -> None:
    policy = Policy.of(
        [
            {"Effect": "Allow", "NotAction": "dynamodb:Delete*", "Resource": T},
            {"Effect": "Deny", "Action": "dynamodb:*", "NotResource": [T, f"{T}/index/*"]},
        ]
    )
    assert policy.decide("dynamodb:UpdateItem", T) == "Allow"
    assert policy.decide("dynamodb:DeleteItem", T) == "ImplicitDeny"
    assert policy.decide("dynamodb:GetItem", table_arn("other")) == "Deny"


def test_conditions_are_refused_rather_than_ignored() -> None:
    with pytest.raises(TemplateError):
        Policy.of(
            [
                {
                    "Effect": "Allow",
                    "Action": "dynamodb:GetItem",
                    "Resource": T,
                    "Condition": {"Bool": {"aws:SecureTransport": "true"}},
                }
            ]
        )


def test_the_templates_policies_resolve_to_local_arns() -> None:
    template = load_template(ROOT / "template.yaml")
    policies = Policies.from_template(
        template, {"LedgerTable.Arn": T, "CashbackEventBus.Arn": event_bus_arn("cashback-local")}
    )
    assert set(policies.policies) >= {"AdminFunction", "ReviewFunction", "ExpiryFunction"}
    # The review queue is read through its index; the table itself is not scanned.
    assert policies.check("ReviewFunction", [("dynamodb:Query", f"{T}/index/queue")]) is None
    assert policies.check("ReviewFunction", [("dynamodb:Query", f"{T}/index/due")]) is not None
    assert policies.check("ExpiryFunction", [("dynamodb:Query", f"{T}/index/due")]) is None
    assert (
        policies.check("ExpiryFunction", [("events:PutEvents", event_bus_arn("cashback-local"))])
        is None
    )
    assert policies.check("AuthorizerFunction", [("dynamodb:PutItem", T)]) is not None
    # Publishing a version that resizes a campaign's budget updates its shards.
    assert policies.check("AdminFunction", [("dynamodb:UpdateItem", T)]) is None
    # Anyone else (tests, the CLI) is not restricted.
    assert policies.check("local", [("dynamodb:DeleteTable", T)]) is None
    assert policies.check(None, [("dynamodb:DeleteTable", T)]) is None


def test_a_denial_reads_as_dynamodbs() -> None:
    policies = Policies(
        {
            "AuthorizerFunction": Policy.of(
                [{"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": T}]
            )
        }
    )
    denial = policies.check(
        "AuthorizerFunction", [("dynamodb:GetItem", T), ("dynamodb:UpdateItem", T)]
    )
    assert denial is not None
    assert json.loads(access_denied_body(denial)) == {
        "__type": "com.amazon.coral.service#AccessDeniedException",
        "Message": "User: arn:aws:sts::000000000000:assumed-role/AuthorizerFunction-role/"
        "AuthorizerFunction is not authorized to perform: dynamodb:UpdateItem on "
        f"resource: {T} because no identity-based policy allows the "
        "dynamodb:UpdateItem action",
    }


def test_the_caller_is_the_sigv4_access_key_id() -> None:
    header = (
        "AWS4-HMAC-SHA256 Credential=AdminFunction/20261129/us-east-1/dynamodb/"
        "aws4_request, SignedHeaders=host;x-amz-date, Signature=abc"
    )
    assert access_key_id(header) == "AdminFunction"
    assert access_key_id(None) is None
    assert access_key_id("Bearer x") is None
