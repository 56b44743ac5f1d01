"""Payouts: customers withdraw cashback (PIX, bank transfer, wallet, store or statement
credit, donation); the provider's signed status callbacks; and, every minute, the job that
submits requested payouts and polls those whose callback is late."""

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from cashback import runtime
from cashback.api import replies
from cashback.api.http import caller, documented, json_response, make_resolver
from cashback.api.payloads import ID_PATTERN
from cashback.api.payouts import EventAccepted, PayoutReply, PayoutRequest, method_fields
from cashback.config import settings
from cashback.domain.clock import from_epoch_ms
from cashback.domain.errors import NotFound, Unprocessable
from cashback.domain.payouts.destinations import parse_payout_method
from cashback.domain.payouts.provider import SIGNATURE_HEADER, ProviderEvent, verify
from cashback.domain.payouts.records import NewPayout, Payout, PayoutView
from cashback.observability import logger, metrics, tracer
from cashback.services import payout_job, payouts
from cashback.services.lifecycle import check_schedule, scheduled_time

app = make_resolver()

PayoutId = Annotated[str, Path(pattern=ID_PATTERN)]
CONTENTION = {
    503: "contention: too many concurrent writes to this customer; safe to retry after "
    "Retry-After seconds"
}


def _publish(detail_type: str, detail: dict[str, Any]) -> bool:
    accepted = runtime.publisher().publish_event(detail_type, detail)
    if not accepted:  # the payout moved; only its event is missing
        logger.error("payout event not accepted", extra={"type": detail_type, **detail})
    return accepted


def _view(payout: Payout, account: Any = None) -> dict[str, Any]:
    if account is None:
        account = runtime.store().get_account(payout.tenant, payout.customer_id)
    return replies.payout(PayoutView(payout, account))


@app.post(
    "/v1/payouts",
    responses=documented(
        202,
        PayoutReply,
        "Requested: the amount left `available` (it shows as `reserved`) and is submitted "
        "to the provider by the next job run; a replay of the same request answers the "
        "same, with Idempotent-Replayed: true",
        {
            409: "idempotency_conflict: this payout_id was used with a different body",
            422: "insufficient_balance, too_many_lots, points_not_payable, customer_has_debt, "
            "customer_under_review, payout_below_minimum, payout_daily_limit, "
            "payout_monthly_limit; a destination that is not valid names its field",
            **CONTENTION,
        },
        body=True,
    ),
)
def create_payout(request: Annotated[PayoutRequest, Body()]) -> Response[PayoutReply]:
    who = caller(app)
    rules, zone = runtime.payout_rules(who.tenant, who.now)
    program = runtime.program_at(who.tenant, who.now)
    if program is not None and program[1].points is not None:
        raise Unprocessable(
            "a points program redeems points at checkout; it pays out no money",
            code="points_not_payable",
        )
    method = parse_payout_method(method_fields(request))
    reply = payouts.request_payout(
        runtime.store(),
        who.tenant,
        rules,
        zone,
        NewPayout(request.payout_id, request.customer_id, request.amount, method),
        who.now,
        shape=replies.payout,
        publish=_publish,
    )
    if reply.replayed:
        metrics.add_metric(name="PayoutsReplayed", unit=MetricUnit.Count, value=1)
    else:
        metrics.add_metric(name="PayoutsRequested", unit=MetricUnit.Count, value=1)
    headers = {"Idempotent-Replayed": "true"} if reply.replayed else None
    return json_response(reply.status_code, reply.body, headers)


@app.get(
    "/v1/payouts/<payout_id>",
    responses=documented(
        200, PayoutReply, "The payout as it stands", {404: "payout_not_found"}, path=True
    ),
)
def get_payout(payout_id: PayoutId) -> dict[str, Any]:
    who = caller(app)
    return _view(payouts.found(runtime.store(), who.tenant, payout_id))


@app.post(
    "/v1/payouts/<payout_id>/cancel",
    responses=documented(
        200,
        PayoutReply,
        "Canceled: its money is back in `available` (canceling again changes nothing)",
        {
            404: "payout_not_found",
            409: "payout_not_cancelable: submitted to the provider already",
            **CONTENTION,
        },
        path=True,
    ),
)
def cancel_payout(payout_id: PayoutId) -> dict[str, Any]:
    who = caller(app)
    rules, zone = runtime.payout_rules(who.tenant, who.now)
    payout, account = payouts.cancel(
        runtime.store(), who.tenant, payout_id, who.now, rules, zone, publish=_publish
    )
    return _view(payout, account)


def _settings_of(tenant: str) -> tuple[Any, Any]:
    return runtime.payout_rules(tenant, datetime.now(UTC))


@app.post(
    "/v1/providers/<name>/events",
    responses=documented(
        200,
        EventAccepted,
        "Applied (a replayed or late event changes nothing and answers the same)",
        {
            403: "signature_invalid, signature_stale: not signed by the provider with the "
            f"shared secret ({SIGNATURE_HEADER}: t=<unix>,v1=<hex HMAC-SHA256 of t.body>)",
            404: "provider_not_found, payout_not_found",
            409: "payout_transition_invalid, return_window_over",
        },
        body=True,
        path=True,
    ),
)
def provider_event(
    name: Annotated[str, Path(pattern=r"^[a-z][a-z0-9-]{0,31}$")],
    event: Annotated[ProviderEvent, Body()],
    signature: Annotated[str | None, Header(alias=SIGNATURE_HEADER)] = None,
) -> EventAccepted:
    provider = runtime.payout_provider()
    if name != provider.name:
        raise NotFound(f"no payout provider {name}", code="provider_not_found")
    now = from_epoch_ms(app.current_event.request_context.request_time_epoch)
    secret = settings().payout_callback_secret or ""
    verify(secret, app.current_event.body or "", signature, now)
    moved = payout_job.apply_event(runtime.store(), event, now, _settings_of, _publish)
    metrics.add_metric(name="ProviderEvents", unit=MetricUnit.Count, value=1)
    return EventAccepted(payout_id=event.payout_id, status=moved.status)


def _job(event: dict[str, Any]) -> dict[str, Any]:
    now = scheduled_time(event.get("time"))
    check_schedule(now, datetime.now(UTC), time_travel=False)
    report = payout_job.run(runtime.store(), runtime.payout_provider(), now, _settings_of, _publish)
    metrics.add_metric(name="PayoutsSubmitted", unit=MetricUnit.Count, value=report.submitted)
    metrics.add_metric(name="PayoutsPolled", unit=MetricUnit.Count, value=report.polled)
    logger.info("payout job", extra={"report": asdict(report)})
    return asdict(report)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if "httpMethod" not in event and event.get("job") == "submit-payouts":
        return _job(event)
    return app.resolve(event, context)
