"""The hourly lifecycle job: ripen, remind and expire cashback as of the event's time."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import AwareDatetime, BaseModel, ConfigDict

from cashback import runtime
from cashback.lifecycle import LifecycleRun
from cashback.observability import count_money, logger, metrics, tracer


class ScheduledRun(BaseModel):
    """EventBridge Scheduler sends {"time": "<aws.scheduler.scheduled-time>"} (see
    template.yaml); an EventBridge rule's event has `time` too. Anything else is ignored."""

    model_config = ConfigDict(extra="ignore")
    time: AwareDatetime


def _currency(tenant: str) -> str:
    return runtime.tenant_settings(tenant).currency


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    run = ScheduledRun.model_validate(event)
    report = LifecycleRun(runtime.store(), runtime.publisher(), _currency, run.time,
                          context.get_remaining_time_in_millis).run()
    for name, value in (("LotsRipened", report.lots_ripened), ("LotsExpired", report.lots_expired),
                        ("RemindersSent", report.reminders),
                        ("LifecycleFailures", report.failures),
                        ("DueItemsRead", report.index_items_read)):
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    metrics.add_metric(name="RunStoppedEarly", unit=MetricUnit.Count,
                       value=int(report.stopped_early))
    for currency, amounts in report.by_currency.items():
        count_money("CashbackRipened", amounts["ripened"], currency)
        count_money("CashbackExpired", amounts["expired"], currency)
    logger.info("lifecycle run", extra={"report": report.as_dict()})
    return report.as_dict()
