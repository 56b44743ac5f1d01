"""The hourly lifecycle job: ripen, remind and expire cashback as of the event's time."""

import os
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from cashback import runtime
from cashback.observability import count_money, logger, metrics, tracer
from cashback.services.lifecycle import (
    TIME_TRAVEL_ENV,
    LifecycleRun,
    check_schedule,
    scheduled_time,
)


def _currency(tenant: str) -> str:
    return runtime.tenant_settings(tenant).currency


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """EventBridge Scheduler sends {"time": "<aws.scheduler.scheduled-time>"} (see
    template.yaml); an EventBridge rule's event has `time` too. A time that is not ISO 8601
    with an offset, or is ahead of this function's clock, fails the invocation (the
    schedule's retries and dead-letter queue see it) before anything is read or written."""
    clock = datetime.now(UTC)  # the edge reads the clock; the job runs as of the event's time
    now = scheduled_time(event.get("time") if isinstance(event, dict) else None)
    check_schedule(now, clock, time_travel=os.environ.get(TIME_TRAVEL_ENV) == "true")
    report = LifecycleRun(
        runtime.store(), runtime.publisher(), _currency, now, context.get_remaining_time_in_millis
    ).run()
    for name, value in (
        ("LotsRipened", report.lots_ripened),
        ("LotsExpired", report.lots_expired),
        ("RemindersSent", report.reminders),
        ("LifecycleFailures", report.failures),
        ("DueItemsRead", report.index_items_read),
    ):
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    metrics.add_metric(
        name="RunStoppedEarly", unit=MetricUnit.Count, value=int(report.stopped_early)
    )
    for currency, amounts in report.by_currency.items():
        count_money("CashbackRipened", amounts["ripened"], currency)
        count_money("CashbackExpired", amounts["expired"], currency)
    logger.info("lifecycle run", extra={"report": report.as_dict()})
    return report.as_dict()
