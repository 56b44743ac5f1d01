"""API Gateway's TOKEN authorizer, locally: the token checked against the validation
expression, the authorizer function called, and its answer's policy and context checked.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cashback_tools.local.gateway_responses import Refusal
from cashback_tools.local.http_server import header
from cashback_tools.local.iam import ACCOUNT_ID, REGION, wildcard_match
from cashback_tools.local.invocation import FunctionError
from cashback_tools.local.proxy_integration import API_ID
from cashback_tools.local.template import AuthorizerSpec

# Runs the authorizer function with an event: its answer, or FunctionError.
Call = Callable[[dict[str, Any]], Any]


@dataclass(frozen=True)
class Authorized:
    context: dict[str, Any]  # requestContext.authorizer, as the handler sees it
    usage_key: str | None  # the answer's usageIdentifierKey, for the usage plan


class TokenAuthorizer:
    def __init__(self, spec: AuthorizerSpec, stage: str, call: Call) -> None:
        self.spec, self.stage, self.call = spec, stage, call

    def check(self, method: str, path: str, headers: list[tuple[str, str]]) -> Authorized | Refusal:
        """The authorizer's context for the handler and its usageIdentifierKey, or the
        gateway's refusal."""
        token = header(headers, self.spec.header)
        if not token or (
            self.spec.validation_expression
            and not re.fullmatch(self.spec.validation_expression, token)
        ):
            return Refusal("UNAUTHORIZED", "Unauthorized")
        method_arn = (
            f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{API_ID}/{self.stage}/{method}/"
            + path.lstrip("/")
        )
        event = {"type": "TOKEN", "authorizationToken": token, "methodArn": method_arn}
        started = time.monotonic()
        try:
            answer = self.call(event)
        except FunctionError as exc:  # the authorizer's way to say 401 is to raise
            if str(exc) == "Unauthorized":
                return Refusal("UNAUTHORIZED", "Unauthorized")
            return Refusal("AUTHORIZER_FAILURE", None)
        latency = int((time.monotonic() - started) * 1000)
        return self._read(answer, method_arn, latency)

    def _read(self, answer: Any, method_arn: str, latency: int) -> Authorized | Refusal:
        context = _authorizer_context(answer)
        if context is None:
            print(f"{self.spec.function} returned an invalid authorizer response", file=sys.stderr)
            return Refusal("AUTHORIZER_CONFIGURATION_ERROR", None)
        effect = _policy_effect(answer["policyDocument"], method_arn)
        if effect != "Allow":
            message = "User is not authorized to access this resource"
            if effect == "Deny":
                message += " with an explicit deny"
            return Refusal("ACCESS_DENIED", message)
        usage_key = answer.get("usageIdentifierKey")
        passed: dict[str, Any] = {
            **context,
            "principalId": answer["principalId"],
            "integrationLatency": latency,
        }
        return Authorized(passed, usage_key if isinstance(usage_key, str) else None)


def _authorizer_context(answer: Any) -> dict[str, str] | None:
    """The authorizer's context as API Gateway passes it on (values stringified), or None."""
    if not isinstance(answer, dict) or not answer.get("principalId"):
        return None
    if not isinstance(answer.get("policyDocument"), dict):
        return None
    context = answer.get("context") or {}
    if not isinstance(context, dict):
        return None
    result = {}
    for key, value in context.items():
        if isinstance(value, bool):
            result[key] = "true" if value else "false"
        elif isinstance(value, str | int | float):
            result[key] = str(value)
        elif value is not None:
            return None
    return result


def _policy_effect(policy: dict[str, Any], method_arn: str) -> str | None:
    """Allow, Deny or None (nothing matched) for execute-api:Invoke on method_arn."""
    statements = policy.get("Statement") or []
    effect = None
    for statement in [statements] if isinstance(statements, dict) else statements:
        actions = _as_list(statement.get("Action"))
        resources = _as_list(statement.get("Resource"))
        if not any(wildcard_match(a, "execute-api:Invoke", ignore_case=True) for a in actions):
            continue
        if not any(wildcard_match(resource, method_arn) for resource in resources):
            continue
        if statement.get("Effect") == "Deny":
            return "Deny"
        if statement.get("Effect") == "Allow":
            effect = "Allow"
    return effect


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
