"""Risk analysts: the queue of held purchases, the case behind each, and decisions."""

from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from cashback import runtime
from cashback.api import replies
from cashback.api.http import caller, documented, json_response, make_resolver
from cashback.api.payloads import (
    ID_PATTERN,
    DecisionReply,
    DecisionRequest,
    ReviewCase,
    ReviewPage,
)
from cashback.observability import logger, metrics, tracer
from cashback.routes import lists as list_routes
from cashback.services import reviews

app = make_resolver()
app.include_router(list_routes.router)

OrderId = Annotated[str, Path(pattern=ID_PATTERN)]


@app.get(
    "/v1/reviews",
    responses=documented(
        200,
        ReviewPage,
        "One page of open cases, riskiest first",
        {400: "invalid_cursor: not a cursor this API returned"},
        query=True,
    ),
)
def review_queue(
    status: Annotated[Literal["open"], Query()] = "open",
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
) -> ReviewPage:
    who = caller(app)
    orders, next_cursor = reviews.queue(runtime.store(), who.tenant, limit, cursor)
    return replies.review_page(orders, next_cursor)


@app.get(
    "/v1/reviews/<order_id>",
    responses=documented(200, ReviewCase, "The case", {404: "case_not_found"}, path=True),
)
def review_case(order_id: OrderId) -> ReviewCase:
    who = caller(app)
    currency = runtime.tenant_settings(who.tenant).currency
    return replies.review_case(reviews.case(runtime.store(), who.tenant, order_id), currency)


@app.post(
    "/v1/reviews/<order_id>/decision",
    responses=documented(
        200,
        DecisionReply,
        "Decided",
        {
            404: "case_not_found",
            409: "case_closed: decided already, or closed by a refund; case_changed",
            503: "contention: safe to retry after Retry-After seconds",
        },
        body=True,
        path=True,
    ),
)
def review_decision(
    order_id: OrderId, decision: Annotated[DecisionRequest, Body()]
) -> Response[DecisionReply]:
    who = caller(app)
    verdict, replayed = reviews.decide(
        runtime.store(),
        who.tenant,
        order_id,
        decision.decision,
        decision.note,
        who.key_id,
        who.now,
        reason=decision.reason,
    )
    reply = replies.decision(verdict)
    if replayed:  # the same analyst's retry of the decision that closed the case
        return json_response(200, reply, {"Idempotent-Replayed": "true"})
    if decision.decision == "approve":
        metrics.add_metric(name="CasesApproved", unit=MetricUnit.Count, value=1)
    else:
        metrics.add_metric(name="CasesRejected", unit=MetricUnit.Count, value=1)
    return json_response(200, reply)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
