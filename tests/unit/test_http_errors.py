"""The HTTP edge's error replies: every 503 carries Retry-After (issue 8, finding 10)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from cashback.api.errors import STATUSES
from cashback.api.http import make_resolver
from cashback.domain import errors
from cashback.domain.errors import Conflict, Contention

EVENT = json.loads((Path(__file__).parents[2] / "events/accrual/purchase.json").read_text())


def _client_error(code: str, reasons: list[dict[str, str]] | None = None) -> ClientError:
    response: dict[str, Any] = {"Error": {"Code": code, "Message": "x"}}
    if reasons is not None:
        response["CancellationReasons"] = reasons
    return ClientError(response, "TransactWriteItems")  # type: ignore[arg-type]


RAISED: dict[str, Exception] = {
    "contention": Contention("too many concurrent writes to this customer"),
    "throttled": _client_error("ProvisionedThroughputExceededException"),
    "throttled-transaction": _client_error(
        "TransactionCanceledException", [{"Code": "None"}, {"Code": "ThrottlingError"}]
    ),
    "request-limit": _client_error("RequestLimitExceeded"),
    "conflict": Conflict("same id, other body"),
    "denied": _client_error("AccessDeniedException"),
}


def _call(name: str) -> dict[str, Any]:
    app = make_resolver()

    @app.get("/boom/<name>")
    def boom(name: str) -> dict[str, Any]:
        raise RAISED[name]

    event = {
        **EVENT,
        "resource": "/boom/{name}",
        "path": f"/boom/{name}",
        "httpMethod": "GET",
        "body": None,
        "pathParameters": {"name": name},
    }
    return app.resolve(event, None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "code", "retry_after"),
    [
        ("contention", "contention", "1"),
        ("throttled", "throttled", "2"),
        ("throttled-transaction", "throttled", "2"),
        ("request-limit", "throttled", "2"),
    ],
)
def test_every_503_says_when_to_retry(name: str, code: str, retry_after: str) -> None:
    reply = _call(name)
    assert reply["statusCode"] == 503
    assert json.loads(reply["body"])["code"] == code
    headers = {
        **reply.get("headers", {}),
        **{k: v[-1] for k, v in reply.get("multiValueHeaders", {}).items()},
    }
    assert headers["Retry-After"] == retry_after
    assert int(headers["Retry-After"]) > 0


@pytest.mark.parametrize(("name", "status"), [("conflict", 409), ("denied", 500)])
def test_other_errors_carry_no_retry_after(name: str, status: int) -> None:
    reply = _call(name)
    assert reply["statusCode"] == status
    headers = {**reply.get("headers", {}), **reply.get("multiValueHeaders", {})}
    assert "Retry-After" not in headers


def test_every_domain_error_has_its_own_row_in_the_status_table() -> None:
    kinds = {
        kind
        for kind in vars(errors).values()
        if isinstance(kind, type) and issubclass(kind, errors.CashbackError)
    }
    assert kinds == set(STATUSES)
    assert all((row.status == 503) == (row.retry_after is not None) for row in STATUSES.values())
