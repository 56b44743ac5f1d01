"""Risk analysts: the queue of held purchases, the case behind each, and decisions."""

from dataclasses import asdict
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from cashback import runtime
from cashback.api import reviews as replies
from cashback.api.http import caller, documented, json_response, make_resolver
from cashback.api.payloads import ID_PATTERN
from cashback.api.reviews import (
    CaseClaim,
    ClaimRequest,
    DecisionReply,
    DecisionRequest,
    NoteReply,
    NoteRequest,
    QueueStatsReply,
    ReviewCase,
    ReviewPage,
)
from cashback.domain.risk.model_metadata import load_metadata
from cashback.observability import logger, metrics, tracer
from cashback.routes import lists as list_routes
from cashback.routes import risk as risk_routes
from cashback.services import decisions, reviews

app = make_resolver()
app.include_router(list_routes.router)
app.include_router(risk_routes.router)

OrderId = Annotated[str, Path(pattern=ID_PATTERN)]


@app.get(
    "/v1/reviews",
    responses=documented(
        200,
        ReviewPage,
        "One page of cases in a state (open by default), in the order asked",
        {400: "invalid_cursor: not a cursor this API returned for this state and sort"},
        query=True,
    ),
)
def review_list(
    status: Annotated[Literal["open", "approved", "rejected", "refunded"], Query()] = "open",
    sort: Annotated[Literal["risk", "age", "amount"], Query()] = "risk",
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
) -> ReviewPage:
    who = caller(app)
    store = runtime.store()
    orders, next_cursor = reviews.cases(store, who.tenant, status, sort, limit, cursor)
    return replies.review_page(orders, reviews.held(store, orders), next_cursor, who.now)


@app.get(
    "/v1/review-stats",
    responses=documented(200, QueueStatsReply, "The queue's size and age, and decisions"),
)
def review_stats() -> QueueStatsReply:
    who = caller(app)
    return replies.queue_stats(reviews.stats(runtime.store(), who.tenant, who.now))


@app.get(
    "/v1/reviews/<order_id>",
    responses=documented(200, ReviewCase, "The case", {404: "case_not_found"}, path=True),
)
def review_case(order_id: OrderId) -> ReviewCase:
    who = caller(app)
    currency = runtime.tenant_settings(who.tenant).currency
    found = reviews.case(runtime.store(), who.tenant, order_id, who.now, load_metadata())
    return replies.review_case(found, currency, who.now)


@app.post(
    "/v1/reviews/<order_id>/claim",
    responses=documented(
        200,
        CaseClaim,
        "Claimed for 30 minutes (again: extended)",
        {
            404: "case_not_found",
            409: "case_claimed: another analyst holds it (details: by, until); case_closed",
            422: "a take-over without a reason",
        },
        body=True,
        path=True,
    ),
)
def review_claim(
    order_id: OrderId, claim: Annotated[ClaimRequest | None, Body()] = None
) -> CaseClaim:
    who = caller(app)
    asked = claim or ClaimRequest()
    made = reviews.claim_case(
        runtime.store(), who.tenant, order_id, who.key_id, who.now, asked.take_over, asked.reason
    )
    if made.taken_from:
        metrics.add_metric(name="CasesTakenOver", unit=MetricUnit.Count, value=1)
    return CaseClaim.model_validate(
        {"order_id": order_id, "claim": {"by": made.by, "until": made.until}}
    )


@app.post(
    "/v1/reviews/<order_id>/notes",
    responses=documented(
        201, NoteReply, "Kept on the case", {404: "case_not_found"}, body=True, path=True
    ),
)
def review_note(order_id: OrderId, note: Annotated[NoteRequest, Body()]) -> Response[NoteReply]:
    who = caller(app)
    kept = reviews.add_note(runtime.store(), who.tenant, order_id, who.key_id, note.text, who.now)
    return json_response(201, NoteReply.model_validate(asdict(kept)).model_dump(mode="json"))


@app.post(
    "/v1/reviews/<order_id>/decision",
    responses=documented(
        200,
        DecisionReply,
        "Decided",
        {
            404: "case_not_found",
            409: "case_closed: decided already, or closed by a refund; case_changed; "
            "case_claimed: another analyst's claim is live",
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
    verdict, replayed = decisions.decide(
        runtime.store(), who.tenant, order_id, decision.ruling(), who.key_id, who.now
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
