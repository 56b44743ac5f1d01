"""Reports: the table's stream folded into report totals (the event source mapping's
batches), and the reports finance reads from them (API Gateway)."""

import time
from datetime import date
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from cashback import runtime
from cashback.api.http import caller, documented, make_resolver
from cashback.api.report_payloads import LiabilityReport, ProgramReport
from cashback.domain.reports.totals import Change
from cashback.observability import logger, metrics, tracer
from cashback.services import reports

app = make_resolver()


@app.get(
    "/v1/reports/liability",
    responses=documented(
        200,
        LiabilityReport,
        "The liability roll-forward over the periods, and breakage by earning month",
        {422: "report_range: from after to, or more than 366 days (120 months)"},
        query=True,
    ),
)
def liability(
    start: Annotated[date, Query(alias="from", description="First day (ISO date)")],
    end: Annotated[date, Query(alias="to", description="Last day (ISO date)")],
    granularity: Annotated[Literal["day", "month"], Query()] = "day",
) -> dict[str, Any]:
    who = caller(app)
    return reports.liability(runtime.store(), who.tenant, start, end, granularity, who.now)


@app.get(
    "/v1/reports/program",
    responses=documented(
        200,
        ProgramReport,
        "The program's results by month and cohort, users against non-users, experiments",
        {422: "report_range: from after to, or more than 120 months"},
        query=True,
    ),
)
def program(
    start: Annotated[date, Query(alias="from", description="A day of the first month")],
    end: Annotated[date, Query(alias="to", description="A day of the last month")],
) -> dict[str, Any]:
    who = caller(app)
    in_force = runtime.program_at(who.tenant, who.now)
    margin = in_force[1].gross_margin if in_force else None
    return reports.program(runtime.store(), who.tenant, start, end, margin)


def _change(record: DynamoDBRecord) -> Change:
    return runtime.store().stream_change(record.raw_event)


def fold_stream(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Decode every record (Powertools' batch processor), fold the ones before the first
    that failed, and tell Lambda to retry from the first record not folded (it retries from
    the lowest sequence number listed: nothing after it is lost, nothing before it comes
    back). Nothing here raises after a write."""
    processor = BatchProcessor(
        event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False
    )
    records = event.get("Records") or []
    with processor(records=records, handler=_change):
        outcomes = processor.process()
    changes: list[Change] = []
    for status, result, record in outcomes:
        if status != "success":
            logger.error(
                "a stream record could not be read; Lambda retries from it",
                extra={"error": result, "sequence_number": record.dynamodb.sequence_number},
            )
            break
        changes.append(result)
    folded = reports.fold(
        runtime.store(), changes, int(time.time()), context.get_remaining_time_in_millis
    )
    done = folded.done
    metrics.add_metric(name="StreamRecordsFolded", unit=MetricUnit.Count, value=folded.records)
    metrics.add_metric(name="ReportWrites", unit=MetricUnit.Count, value=folded.writes)
    if done < len(records):
        failed = records[done]["dynamodb"]["SequenceNumber"]
        metrics.add_metric(
            name="StreamRecordsRetried", unit=MetricUnit.Count, value=len(records) - done
        )
        return {"batchItemFailures": [{"itemIdentifier": failed}]}
    return {"batchItemFailures": []}


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if "Records" in event:
        return fold_stream(event, context)
    return app.resolve(event, context)
