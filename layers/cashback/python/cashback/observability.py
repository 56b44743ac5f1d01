"""The one logger, tracer and metrics instance every module imports, and the list of every
metric the code emits."""

import os
import warnings

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.metrics.functions import is_metrics_disabled
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import (
    AmazonCloudWatchEMFProvider,
)


class _EMFProvider(AmazonCloudWatchEMFProvider):
    """Powertools keeps the metrics it did not print while POWERTOOLS_METRICS_DISABLED is
    set (the local runner sets it) and prints them anyway at the 100th value; drop them
    after every invocation instead."""

    def flush_metrics(self, raise_on_empty_metrics: bool = False) -> None:
        super().flush_metrics(raise_on_empty_metrics=raise_on_empty_metrics)
        self.clear_metrics()


# A refused request emits no business metric; Powertools warns about that every time.
warnings.filterwarnings("ignore", message="No application metrics to publish")

logger = Logger()
tracer = Tracer()
metrics = Metrics(provider=_EMFProvider())

# Every metric the code emits, in the POWERTOOLS_METRICS_NAMESPACE namespace (Cashback), each
# with the dimension service=<POWERTOOLS_SERVICE_NAME> plus the ones named here. A test reads
# every add_metric / count_money / count_by call in functions/ and the layer and fails on a
# name missing here (a typo ships a metric nobody watches), and on a name here never emitted.
METRICS: dict[str, tuple[str, ...]] = {
    # AccrualFunction
    "PurchasesRecorded": (),
    "PurchasesReplayed": (),
    "PurchasesHeld": (),  # screened as suspicious: waiting for an analyst
    "PurchasesBlocked": (),  # screened as abusive: nothing credited
    "CashbackCredited": ("currency",),
    "CashbackHeld": ("currency",),
    "RefundsRecorded": (),
    "RefundsReplayed": (),
    "CashbackClawedBack": ("currency",),
    # RedemptionFunction: spending at checkout (amounts by what they paid, in money)
    "RedemptionsMade": (),
    "RedemptionsReplayed": (),
    "RedemptionsFailed": (),  # insufficient balance and the like: they stay failed
    "CashbackRedeemed": ("currency",),
    "HoldsCaptured": (),
    "HoldsCanceled": (),
    "HoldsExpired": (),  # released by the every-minute sweep
    # PayoutFunction
    "PayoutsRequested": (),
    "PayoutsReplayed": (),
    "ProviderEvents": (),  # signed status callbacks applied
    "PayoutsSubmitted": (),  # by the job, to the provider
    "PayoutsPolled": (),  # late callbacks: the job asked the provider
    # ReviewFunction
    "CasesApproved": (),
    "CasesRejected": (),
    "CasesTakenOver": (),  # an analyst took a claimed case from another
    # ExpiryFunction (the lifecycle job)
    "LotsRipened": (),
    "LotsExpired": (),
    "RemindersSent": (),
    "CashbackRipened": ("currency",),
    "CashbackExpired": ("currency",),
    "LifecycleFailures": (),
    "DueItemsRead": (),
    "RunStoppedEarly": (),
    # ReportsFunction (the table's stream)
    "StreamRecordsFolded": (),  # folded into report totals now (not counting replays)
    "StreamRecordsRetried": (),  # handed back to Lambda to retry (the run could not be written)
    "ReportWrites": (),  # report items and run markers written
    # AuthorizerFunction: keys it refused (Lambda counts each as an error)
    "KeysRefused": (),
    # Every API function: unexpected errors answered as 500 (Lambda does not count them)
    "InternalErrors": ("function",),
}


def count_money(name: str, amount: int, currency: str) -> None:
    """An amount in minor units (or points) adds up only within its currency, so it carries
    a `currency` dimension. EMF gives every metric of one document the same dimensions,
    so each goes out as a document of its own (Powertools' single_metric) instead of with
    the invocation's counts; the service dimension is kept."""
    count_by(name, amount, currency=currency)


def count_by(name: str, value: int, **dimensions: str) -> None:
    """A count with dimensions of its own (see count_money), printed at once."""
    if is_metrics_disabled():  # single_metric prints even when metrics are disabled
        return
    service = os.environ.get("POWERTOOLS_SERVICE_NAME", "service_undefined")
    with single_metric(
        name=name,
        unit=MetricUnit.Count,
        value=value,
        namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE"),
        default_dimensions={"service": service, **dimensions},
    ):
        pass
