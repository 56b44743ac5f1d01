"""IAM as AWS enforces it, for the local stack: each function's policy statements from
template.yaml, the IAM actions and resources each DynamoDB API call needs, and the
AccessDeniedException AWS answers when no statement allows one (or one denies it).

The caller is named by the access key id of its SigV4 `Authorization` header: under the
local stack a function's process signs with `AWS_ACCESS_KEY_ID=<its logical id>`. Any
other key (tests, tools, the CLI) is not restricted, like an administrator.

Evaluation follows AWS's rules for identity-based policies in one account: an explicit
Deny wins, otherwise some Allow must match, otherwise the call is implicitly denied.
Action, NotAction, Resource and NotResource are matched with `*` and `?` wildcards
(actions case-insensitively). Statements with a Condition are refused when loaded: none
of the template's use one, and ignoring one would allow more than AWS does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from cashback_tools.local.template import Template, TemplateError

ACCOUNT_ID = "000000000000"
REGION = "us-east-1"
_TARGET_PREFIX = "DynamoDB_20120810."
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")
# Item operations whose IAM action is the operation's own name, on the table or, when the
# request names an index, on `table/<t>/index/<i>`.
_INDEXABLE = {"Query", "Scan"}
_TRANSACT_WRITE_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}
# Operations on no particular table: IAM checks them against "*".
_ACCOUNT_WIDE = {
    "ListTables",
    "DescribeLimits",
    "DescribeEndpoints",
    "ListBackups",
    "ListGlobalTables",
    "ListExports",
    "ListImports",
}


@dataclass(frozen=True)
class Statement:
    effect: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    not_actions: bool = False
    not_resources: bool = False

    def applies(self, action: str, resource: str) -> bool:
        action_match = any(wildcard_match(p, action, ignore_case=True) for p in self.actions)
        resource_match = any(wildcard_match(p, resource) for p in self.resources)
        return (action_match != self.not_actions) and (resource_match != self.not_resources)

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Statement:
        effect = raw.get("Effect")
        if effect not in ("Allow", "Deny"):
            raise TemplateError(f"a policy statement's Effect must be Allow or Deny: {raw}")
        if "Condition" in raw:
            raise TemplateError(f"policy conditions are not evaluated locally: {raw}")
        action_key = "NotAction" if "NotAction" in raw else "Action"
        resource_key = "NotResource" if "NotResource" in raw else "Resource"
        if action_key not in raw or resource_key not in raw:
            raise TemplateError(f"a policy statement needs Action and Resource: {raw}")
        return cls(
            effect,
            _strings(raw[action_key]),
            _strings(raw[resource_key]),
            not_actions=action_key == "NotAction",
            not_resources=resource_key == "NotResource",
        )


@dataclass(frozen=True)
class Policy:
    """One principal's identity-based policy statements."""

    statements: tuple[Statement, ...]

    @classmethod
    def of(cls, statements: Iterable[Mapping[str, Any]]) -> Policy:
        return cls(tuple(Statement.parse(raw) for raw in statements))

    def decide(self, action: str, resource: str) -> str:
        """ "Allow", "Deny" (an explicit deny) or "ImplicitDeny" (nothing allows it)."""
        allowed = False
        for statement in self.statements:
            if statement.applies(action, resource):
                if statement.effect == "Deny":
                    return "Deny"
                allowed = True
        return "Allow" if allowed else "ImplicitDeny"


@dataclass(frozen=True)
class Denial:
    principal: str  # the function's logical id
    action: str
    resource: str
    explicit: bool

    @property
    def caller_arn(self) -> str:
        # Lambda runs as its execution role, in a session named after the function.
        return f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{self.principal}-role/{self.principal}"

    @property
    def message(self) -> str:
        reason = (
            "with an explicit deny in an identity-based policy"
            if self.explicit
            else f"because no identity-based policy allows the {self.action} action"
        )
        return (
            f"User: {self.caller_arn} is not authorized to perform: {self.action} "
            f"on resource: {self.resource} {reason}"
        )


class Policies:
    """The template's functions' policies; check(access key id, needs) -> Denial | None."""

    def __init__(self, policies: Mapping[str, Policy]) -> None:
        self.policies = dict(policies)

    @classmethod
    def from_template(cls, template: Template, refs: Mapping[str, str]) -> Policies:
        """`refs` resolve the template's references, e.g. {"LedgerTable.Arn": "arn:..."}."""
        refs = {**template_arns(template), **refs}
        policies = {}
        for logical_id, props in template.function_properties().items():
            statements = sam_implied_statements(template, props, refs)
            for entry in props.get("Policies") or []:
                # SAM policy templates and managed policy names grant nothing to the
                # resources the local stack checks; statements are what this project uses.
                if isinstance(entry, dict) and "Statement" in entry:
                    raw = entry["Statement"]
                    statements += [
                        _resolved(template, s, refs)
                        for s in ([raw] if isinstance(raw, dict) else raw)
                    ]
            policies[logical_id] = Policy.of(statements)
        return cls(policies)

    def restricts(self, access_key_id: str | None) -> bool:
        return access_key_id is not None and access_key_id in self.policies

    def check(self, access_key_id: str | None, needs: Iterable[tuple[str, str]]) -> Denial | None:
        """The first (action, resource) the caller may not perform, or None."""
        if access_key_id is None or access_key_id not in self.policies:
            return None
        policy = self.policies[access_key_id]
        for action, resource in needs:
            decision = policy.decide(action, resource)
            if decision != "Allow":
                return Denial(access_key_id, action, resource, explicit=decision == "Deny")
        return None


def access_key_id(authorization: str | None) -> str | None:
    """The access key id of a SigV4 `Authorization` header (None when unsigned)."""
    if not authorization:
        return None
    found = _CREDENTIAL.search(authorization)
    return found.group(1) if found else None


def table_arn(table: str) -> str:
    return f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{table}"


def queue_arn(logical_id: str) -> str:
    """A template queue's ARN locally (CloudFormation names it <stack>-<LogicalId>-...)."""
    return f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:cashback-local-{logical_id}"


def template_arns(template: Template) -> dict[str, str]:
    """`<Queue>.Arn` for each AWS::SQS::Queue of the template."""
    return {
        f"{logical_id}.Arn": queue_arn(logical_id)
        for logical_id, resource in template.resources.items()
        if resource.get("Type") == "AWS::SQS::Queue"
    }


def sam_implied_statements(
    template: Template, props: Mapping[str, Any], refs: Mapping[str, str]
) -> list[dict[str, Any]]:
    """What SAM adds to a function's role for its events: a `Type: DynamoDB` event attaches
    the managed policy AWSLambdaDynamoDBExecutionRole (reading any stream; its CloudWatch
    Logs actions are not checked here), and an OnFailure destination with `Type: SQS` gets
    sqs:SendMessage on it. Without that Type the template must grant it (SAM adds nothing)."""
    statements: list[dict[str, Any]] = []
    for event in (props.get("Events") or {}).values():
        if event.get("Type") != "DynamoDB":
            continue
        statements.append(
            {
                "Effect": "Allow",
                "Action": [
                    "dynamodb:DescribeStream",
                    "dynamodb:GetRecords",
                    "dynamodb:GetShardIterator",
                    "dynamodb:ListStreams",
                ],
                "Resource": "*",
            }
        )
        details = event.get("Properties") or {}
        on_failure = (details.get("DestinationConfig") or {}).get("OnFailure") or {}
        destination = template.resolve(on_failure.get("Destination"), refs)
        if on_failure.get("Type") == "SQS" and destination is not None:
            statements.append(
                {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": destination}
            )
    return statements


def event_bus_arn(bus: str | None) -> str:
    if bus and bus.startswith("arn:"):
        return bus
    return f"arn:aws:events:{REGION}:{ACCOUNT_ID}:event-bus/{bus or 'default'}"


def dynamodb_needs(target: str | None, body: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The (IAM action, resource ARN) pairs AWS checks for one DynamoDB API request.

    See "Actions, resources, and condition keys for Amazon DynamoDB" and "Using IAM with
    DynamoDB transactions": a transaction needs the action of each of its items on that
    item's table (TransactWriteItems and TransactGetItems are not IAM actions of their
    own); a batch needs the batch action on each table it names; a Query or Scan with
    IndexName needs the action on the index's ARN, not the table's. PartiQL is not
    modelled (nothing here uses it): it is checked as its operation's name on "*".
    """
    if not target or not target.startswith(_TARGET_PREFIX):
        return [("dynamodb:" + (target or "Unknown"), "*")]
    operation = target.removeprefix(_TARGET_PREFIX)
    needs: list[tuple[str, str]] = []

    def on_table(action: str, table: Any, index: Any = None) -> None:
        arn = (
            table if isinstance(table, str) and table.startswith("arn:") else table_arn(str(table))
        )
        needs.append((f"dynamodb:{action}", f"{arn}/index/{index}" if index else arn))

    if operation == "TransactWriteItems":
        for item in body.get("TransactItems") or []:
            for kind, request in item.items():
                action = _TRANSACT_WRITE_ACTIONS.get(kind, kind)
                on_table(action, request.get("TableName"))
    elif operation == "TransactGetItems":
        for item in body.get("TransactItems") or []:
            on_table("GetItem", (item.get("Get") or {}).get("TableName"))
    elif operation in ("BatchGetItem", "BatchWriteItem"):
        for table in body.get("RequestItems") or {}:
            on_table(operation, table)
    elif operation in _ACCOUNT_WIDE or "TableName" not in body:
        needs.append((f"dynamodb:{operation}", "*"))
    else:
        index = body.get("IndexName") if operation in _INDEXABLE else None
        on_table(operation, body["TableName"], index)
    # Deduplicated, in order: one denial names the first thing missing.
    return list(dict.fromkeys(needs))


def access_denied_body(denial: Denial) -> bytes:
    """DynamoDB's answer (HTTP 400, JSON 1.0) to a call IAM refuses."""
    return json.dumps(
        {"__type": "com.amazon.coral.service#AccessDeniedException", "Message": denial.message}
    ).encode()


def _resolved(
    template: Template, raw: Mapping[str, Any], refs: Mapping[str, str]
) -> dict[str, Any]:
    statement = dict(raw)
    for key in ("Resource", "NotResource"):
        if key in statement:
            values = statement[key] if isinstance(statement[key], list) else [statement[key]]
            resolved = []
            for value in values:
                text = template.resolve(value, refs)
                if text is None:
                    raise TemplateError(f"cannot resolve policy resource {value!r} locally")
                resolved.append(text)
            statement[key] = resolved
    return statement


def _strings(value: Any) -> tuple[str, ...]:
    values = value if isinstance(value, list) else [value]
    if not all(isinstance(v, str) for v in values):
        raise TemplateError(f"policy actions and resources must be strings: {value!r}")
    return tuple(values)


def wildcard_match(pattern: Any, value: str, *, ignore_case: bool = False) -> bool:
    """IAM's pattern matching (`*` any run, `?` one character), for policies' actions and
    resources here and the authorizer's policy in the gateway. A non-string never matches."""
    if not isinstance(pattern, str):
        return False
    return _compiled(pattern, ignore_case).fullmatch(value) is not None


@lru_cache(maxsize=1024)
def _compiled(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(regex, re.DOTALL | (re.IGNORECASE if ignore_case else 0))
