"""The sandbox payout provider's side of a local stack: its payments (in the stack's
table), and its signed status callbacks POSTed to the callback route, as the provider
would send them. For the demo and the tests; the payout function has its own instance."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import UTC, datetime
from typing import Any

from cashback.adapters.dynamodb.payouts import DynamoSandboxStore
from cashback.adapters.providers.sandbox import SandboxProvider
from cashback.domain.payouts.provider import SIGNATURE_HEADER, sign
from cashback_tools.local.stack import LocalStack


def callback_secret(stack: LocalStack) -> str:
    """The secret callbacks are signed with: the template's PayoutCallbackSecret."""
    assert stack.template is not None
    return stack.template.parameter_defaults()["PayoutCallbackSecret"]


def sandbox_provider(stack: LocalStack, at: datetime | None = None) -> SandboxProvider:
    """The sandbox over the stack's table, its clock stopped at `at` (default: now)."""
    assert stack.store is not None
    moment = at or datetime.now(UTC)
    return SandboxProvider(callback_secret(stack), lambda: moment, DynamoSandboxStore(stack.store))


def deliver_callbacks(stack: LocalStack, at: datetime | None = None) -> list[tuple[int, Any]]:
    """POST the callbacks due by `at` (the sandbox's clock may run ahead) to the callback
    route, each signed as it is sent (the gateway's clock is real): (status, reply) each."""
    secret, replies = callback_secret(stack), []
    for callback in sandbox_provider(stack, at).callbacks():
        signed = sign(secret, callback.body, int(datetime.now(UTC).timestamp()))
        request = urllib.request.Request(
            f"{stack.url}/v1/providers/sandbox/events",
            data=callback.body,
            method="POST",
            headers={"Content-Type": "application/json", SIGNATURE_HEADER: signed},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as reply:
                replies.append((reply.status, json.loads(reply.read())))
        except urllib.error.HTTPError as error:
            replies.append((error.code, json.loads(error.read())))
    return replies
