"""Spending at checkout (redemptions, holds, reversals), a customer's balance and ledger
history; and, every minute, the sweep that releases checkout holds that expired."""

import os
from datetime import UTC, datetime
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from cashback import runtime
from cashback.api import replies
from cashback.api.http import caller, documented, json_response, make_resolver
from cashback.api.payloads import ID_PATTERN, BalanceReply, EntriesPage
from cashback.api.redemptions import (
    CaptureRequest,
    RedemptionReply,
    RedemptionRequest,
    ReversalRequest,
)
from cashback.domain.errors import Unprocessable
from cashback.domain.orders import Reply
from cashback.domain.redemptions import NewRedemption, NewReversal, Redemption, RedemptionView
from cashback.observability import count_money, logger, metrics, tracer
from cashback.services import balances, holds, redemptions
from cashback.services.lifecycle import TIME_TRAVEL_ENV, check_schedule, scheduled_time

app = make_resolver()

CustomerId = Annotated[str, Path(pattern=ID_PATTERN)]
RedemptionId = Annotated[str, Path(pattern=ID_PATTERN)]

CONTENTION = {
    503: "contention: too many concurrent writes to this customer; safe to retry after "
    "Retry-After seconds"
}
TIMES = "occurred_at_in_future, occurred_at_too_old (the storefront's back-dating window)"
HOLD_CONFLICTS = (
    "hold_expired (never capturable; its cashback is spendable again), "
    "hold_already_resolved (captured or canceled already), redemption_failed"
)


@app.get(
    "/v1/customers/<customer_id>/balance",
    responses=documented(200, BalanceReply, "The customer's balances", path=True),
)
def get_balance(customer_id: CustomerId) -> BalanceReply:
    who = caller(app)
    currency = runtime.tenant_settings(who.tenant).currency
    program = runtime.program_at(who.tenant, who.now)
    found = balances.balance(
        runtime.store(),
        who.tenant,
        customer_id,
        rules=program[1] if program else None,
        now=who.now,
    )
    return replies.balance(customer_id, currency, found)


@app.get(
    "/v1/customers/<customer_id>/entries",
    responses=documented(
        200,
        EntriesPage,
        "One page of the ledger, newest first",
        {400: "invalid_cursor: not a cursor this API returned"},
        path=True,
        query=True,
    ),
)
def list_entries(
    customer_id: CustomerId,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> EntriesPage:
    who = caller(app)
    currency = runtime.tenant_settings(who.tenant).currency
    history = balances.entries(runtime.store(), who.tenant, customer_id, limit, cursor)
    return replies.entries(customer_id, currency, history)


def _reply(reply: Reply) -> Response[Any]:
    headers = {"Idempotent-Replayed": "true"} if reply.replayed else None
    return json_response(reply.status_code, reply.body, headers)


@app.post(
    "/v1/redemptions",
    responses=documented(
        201,
        RedemptionReply,
        "Spent (captured) or held (reserved), earliest deadline first; a replay of the same "
        "request answers the same, with Idempotent-Replayed: true",
        {
            409: "idempotency_conflict: this redemption_id was used with a different body",
            422: "insufficient_balance (details: available; the redemption stays failed: a "
            "retry gets the same answer), too_many_lots, order_amount_required, "
            f"redeem_share_exceeded, {TIMES}",
            **CONTENTION,
        },
        body=True,
    ),
)
def create_redemption(
    redemption: Annotated[RedemptionRequest, Body()],
) -> Response[RedemptionReply]:
    who = caller(app)
    program = runtime.program_at(who.tenant, redemption.occurred_at)
    reply = redemptions.redeem(
        runtime.store(),
        who.tenant,
        runtime.tenant_settings(who.tenant),
        program[1] if program else None,
        NewRedemption(**redemption.model_dump()),
        who.now,
        shape=replies.redemption,
    )
    if reply.replayed:
        metrics.add_metric(name="RedemptionsReplayed", unit=MetricUnit.Count, value=1)
    elif reply.status_code == 201:
        metrics.add_metric(name="RedemptionsMade", unit=MetricUnit.Count, value=1)
        count_money("CashbackRedeemed", reply.body["value"], reply.body["currency"])
    else:
        metrics.add_metric(name="RedemptionsFailed", unit=MetricUnit.Count, value=1)
    if reply.status_code != 201:  # failed, and stays failed: the same error every time
        failure = reply.body
        raise Unprocessable(failure["message"], code=failure["code"], details=failure["details"])
    return _reply(reply)


def _view(tenant: str, record: Redemption, account: Any = None) -> dict[str, Any]:
    settings = runtime.tenant_settings(tenant)
    program = runtime.program_at(tenant, datetime.fromisoformat(record.occurred_at))
    unit, value = redemptions.unit_and_value(program[1] if program else None, record.amount)
    if account is None:
        account = runtime.store().get_account(tenant, record.customer_id)
    return replies.redemption(RedemptionView(record, account, settings.currency, unit, value))


@app.get(
    "/v1/redemptions/<redemption_id>",
    responses=documented(
        200,
        RedemptionReply,
        "The redemption as it stands, with the customer's balance now",
        {404: "redemption_not_found", 409: "redemption_failed: it failed and stays failed"},
        path=True,
    ),
)
def get_redemption(redemption_id: RedemptionId) -> dict[str, Any]:
    who = caller(app)
    record = holds.found(runtime.store(), who.tenant, redemption_id)
    if record.status == "failed":
        holds.raise_failed(record)
    return _view(who.tenant, record)


@app.post(
    "/v1/redemptions/<redemption_id>/capture",
    responses=documented(
        200,
        RedemptionReply,
        "Captured: all of the hold, or less (the rest is spendable again at once)",
        {
            404: "redemption_not_found",
            409: HOLD_CONFLICTS,
            422: "capture_exceeds_hold",
            **CONTENTION,
        },
        body=True,
        path=True,
    ),
)
def capture_hold(
    redemption_id: RedemptionId, capture: Annotated[CaptureRequest | None, Body()] = None
) -> dict[str, Any]:
    who = caller(app)
    amount = capture.amount if capture else None
    record, account = holds.resolve(
        runtime.store(), who.tenant, redemption_id, who.now, capture=amount
    )
    metrics.add_metric(name="HoldsCaptured", unit=MetricUnit.Count, value=1)
    return _view(who.tenant, record, account)


@app.post(
    "/v1/redemptions/<redemption_id>/cancel",
    responses=documented(
        200,
        RedemptionReply,
        "Canceled: the held cashback is spendable again",
        {404: "redemption_not_found", 409: HOLD_CONFLICTS, **CONTENTION},
        path=True,
    ),
)
def cancel_hold(redemption_id: RedemptionId) -> dict[str, Any]:
    who = caller(app)
    record, account = holds.resolve(runtime.store(), who.tenant, redemption_id, who.now, capture=0)
    metrics.add_metric(name="HoldsCanceled", unit=MetricUnit.Count, value=1)
    return _view(who.tenant, record, account)


@app.post(
    "/v1/redemptions/<redemption_id>/reversals",
    responses=documented(
        201,
        RedemptionReply,
        "What came back, to which purchases' cashback and deadlines; a replay of the same "
        "request answers the same, with Idempotent-Replayed: true",
        {
            404: "redemption_not_found",
            409: "idempotency_conflict: this reversal_id was used with a different body; "
            "redemption_failed",
            422: f"reversal_exceeds_spent (details: reversible), {TIMES}",
            **CONTENTION,
        },
        body=True,
        path=True,
    ),
)
def create_reversal(
    redemption_id: RedemptionId, reversal: Annotated[ReversalRequest, Body()]
) -> Response[RedemptionReply]:
    who = caller(app)
    reply = redemptions.reverse(
        runtime.store(),
        who.tenant,
        runtime.tenant_settings(who.tenant),
        redemption_id,
        NewReversal(**reversal.model_dump()),
        who.now,
        shape=replies.redemption,
    )
    return _reply(reply)


def _sweep(event: dict[str, Any]) -> dict[str, Any]:
    """Release the holds that expired by the schedule's time."""
    now = scheduled_time(event.get("time"))
    check_schedule(now, datetime.now(UTC), time_travel=os.environ.get(TIME_TRAVEL_ENV) == "true")
    released = holds.sweep(runtime.store(), now)
    metrics.add_metric(name="HoldsExpired", unit=MetricUnit.Count, value=released)
    logger.info("hold sweep", extra={"released": released})
    return {"released": released}


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if "httpMethod" not in event and event.get("job") == "release-holds":
        return _sweep(event)
    return app.resolve(event, context)
