"""The one logger, tracer and metrics instance every module imports."""

import warnings

from aws_lambda_powertools import Logger, Metrics, Tracer
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
