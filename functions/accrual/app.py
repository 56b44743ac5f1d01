"""Purchases and refunds from storefronts."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from cashback import runtime
from cashback.api import replies
from cashback.api.http import caller, documented, json_response, make_resolver
from cashback.api.payloads import PurchaseReply, PurchaseRequest, RefundReply, RefundRequest
from cashback.domain.orders import NewPurchase, NewRefund, Reply
from cashback.observability import count_money, logger, metrics, tracer
from cashback.services import purchases, refunds

app = make_resolver()


def _reply(reply: Reply) -> Response:
    headers = {"Idempotent-Replayed": "true"} if reply.replayed else None
    return json_response(reply.status_code, reply.body, headers)


CONTENTION = {
    503: "contention: too many concurrent writes to this customer or order; safe "
    "to retry after Retry-After seconds"
}
TIMES = "occurred_at_in_future, occurred_at_too_old (the storefront's back-dating window)"


@app.post(
    "/v1/purchases",
    responses=documented(
        201,
        PurchaseReply,
        "Recorded (a replay of the same request answers the same, with Idempotent-Replayed: true)",
        {
            409: "idempotency_conflict: this order_id was used with a different body",
            422: f"currency_mismatch, {TIMES}",
            **CONTENTION,
        },
        body=True,
    ),
)
def create_purchase(purchase: Annotated[PurchaseRequest, Body()]) -> Response[PurchaseReply]:
    who = caller(app)
    reply = purchases.record_purchase(
        runtime.store(),
        who.tenant,
        runtime.tenant_settings(who.tenant),
        NewPurchase.from_dict(purchase.model_dump()),
        who.now,
        runtime.program_at(who.tenant, purchase.occurred_at),
        runtime.scorer(),
        shape=replies.purchase,
    )
    if reply.replayed:
        metrics.add_metric(name="PurchasesReplayed", unit=MetricUnit.Count, value=1)
    else:
        metrics.add_metric(name="PurchasesRecorded", unit=MetricUnit.Count, value=1)
        body = reply.body
        currency = body["currency"] if body.get("unit", "money") == "money" else "points"
        count_money("CashbackCredited", body["credited"], currency)
        if body["status"] == "held":
            metrics.add_metric(name="PurchasesHeld", unit=MetricUnit.Count, value=1)
            count_money("CashbackHeld", body["cashback"], currency)
        elif body["status"] == "blocked":
            metrics.add_metric(name="PurchasesBlocked", unit=MetricUnit.Count, value=1)
    return _reply(reply)


@app.post(
    "/v1/refunds",
    responses=documented(
        201,
        RefundReply,
        "Recorded (a replay of the same request answers the same, with Idempotent-Replayed: true)",
        {
            404: "order_not_found",
            409: "idempotency_conflict: this refund_id was used with a different body",
            422: f"refund_before_purchase, refund_exceeds_order, {TIMES}",
            **CONTENTION,
        },
        body=True,
    ),
)
def create_refund(refund: Annotated[RefundRequest, Body()]) -> Response[RefundReply]:
    who = caller(app)
    reply = refunds.record_refund(
        runtime.store(),
        who.tenant,
        runtime.tenant_settings(who.tenant),
        NewRefund.from_dict(refund.model_dump()),
        who.now,
        shape=replies.refund,
        reversal_shape=replies.redemption,
    )
    if reply.replayed:
        metrics.add_metric(name="RefundsReplayed", unit=MetricUnit.Count, value=1)
    else:
        metrics.add_metric(name="RefundsRecorded", unit=MetricUnit.Count, value=1)
        count_money("CashbackClawedBack", reply.body["clawed_back"], reply.body["currency"])
    return _reply(reply)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
