"""The template's stream event source mappings (each `Type: DynamoDB` event of a function),
every property read and checked; the ones the local stack does not emulate are refused.

Also what Lambda checks when it creates a mapping: that the function's role may read the
stream and send to the on-failure destination (refused otherwise, as AWS refuses it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cashback_tools.local.iam import Denial, Policies, template_arns
from cashback_tools.local.stream_filters import Pattern
from cashback_tools.local.template import Template, TemplateError

# Lambda's own defaults and limits for a DynamoDB stream (CreateEventSourceMapping).
_DEFAULT_BATCH_SIZE = 100
_MAX_BATCH_SIZE = 10000
_MAX_WINDOW = 300
_MAX_FILTERS = 5
STREAM_READ_ACTIONS = (
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:ListStreams",
)
_EMULATED = {
    "Stream",
    "StartingPosition",
    "BatchSize",
    "MaximumBatchingWindowInSeconds",
    "ParallelizationFactor",
    "BisectBatchOnFunctionError",
    "MaximumRetryAttempts",
    "MaximumRecordAgeInSeconds",
    "FunctionResponseTypes",
    "DestinationConfig",
    "FilterCriteria",
    "Enabled",
}


class MappingRefused(TemplateError):
    """Lambda would not create this event source mapping (a property or a permission)."""


@dataclass(frozen=True)
class StreamMapping:
    """One DynamoDB stream event source mapping, as the emulator runs it."""

    function: str
    event: str
    table: str  # the logical id of the table whose stream it reads
    starting_position: str = "TRIM_HORIZON"
    batch_size: int = _DEFAULT_BATCH_SIZE
    window: float = 0.0
    bisect: bool = False
    max_retries: int = -1  # -1: until the record expires
    max_record_age: int = -1  # seconds; -1: no limit
    report_item_failures: bool = False
    on_failure: str | None = None  # the destination's ARN (an SQS queue)
    filters: tuple[Pattern, ...] = ()

    @property
    def name(self) -> str:
        return f"{self.function}.{self.event}"


def stream_mappings(template: Template, refs: Mapping[str, str]) -> list[StreamMapping]:
    """Every enabled `Type: DynamoDB` event of the template's functions."""
    found = []
    for function, props in template.function_properties().items():
        for event, spec in (props.get("Events") or {}).items():
            if spec.get("Type") != "DynamoDB":
                continue
            mapping = parse_mapping(template, function, event, spec.get("Properties") or {}, refs)
            if mapping is not None:
                found.append(mapping)
    return found


def parse_mapping(
    template: Template,
    function: str,
    event: str,
    props: Mapping[str, Any],
    refs: Mapping[str, str],
) -> StreamMapping | None:
    """The mapping an event's Properties describe (None when Enabled: false)."""
    where = f"{function} event {event}"
    if unknown := sorted(set(props) - _EMULATED):
        raise MappingRefused(f"{where}: {', '.join(unknown)} not emulated locally")
    if props.get("Enabled", True) is not True:
        if props["Enabled"] is False:
            return None
        raise MappingRefused(f"{where}: Enabled must be true or false")
    position = props.get("StartingPosition")
    if position not in ("TRIM_HORIZON", "LATEST"):
        raise MappingRefused(f"{where}: StartingPosition must be TRIM_HORIZON or LATEST")
    if _integer(props, "ParallelizationFactor", 1, 1, 10, where) != 1:
        raise MappingRefused(f"{where}: only ParallelizationFactor 1 is emulated locally")
    response_types = props.get("FunctionResponseTypes") or []
    if not isinstance(response_types, list) or set(response_types) - {"ReportBatchItemFailures"}:
        raise MappingRefused(f"{where}: FunctionResponseTypes may only be ReportBatchItemFailures")
    bisect = props.get("BisectBatchOnFunctionError", False)
    if not isinstance(bisect, bool):
        raise MappingRefused(f"{where}: BisectBatchOnFunctionError must be true or false")
    max_age = _integer(props, "MaximumRecordAgeInSeconds", -1, -1, 604800, where)
    if 0 <= max_age < 60:
        raise MappingRefused(f"{where}: MaximumRecordAgeInSeconds is -1 or 60 to 604800")
    return StreamMapping(
        function=function,
        event=event,
        table=_stream_table(template, props.get("Stream"), where),
        starting_position=position,
        batch_size=_integer(props, "BatchSize", _DEFAULT_BATCH_SIZE, 1, _MAX_BATCH_SIZE, where),
        window=_integer(props, "MaximumBatchingWindowInSeconds", 0, 0, _MAX_WINDOW, where),
        bisect=bisect,
        max_retries=_integer(props, "MaximumRetryAttempts", -1, -1, 10000, where),
        max_record_age=max_age,
        report_item_failures=bool(response_types),
        on_failure=_destination(template, props.get("DestinationConfig"), refs, where),
        filters=_filters(props.get("FilterCriteria"), where),
    )


def check_permissions(
    mapping: StreamMapping,
    policies: Policies,
    stream_arn: str,
    record: Callable[[Denial], None],
) -> None:
    """What Lambda checks of the function's role when it creates the mapping: reading the
    stream and sending to the on-failure destination. MappingRefused, recorded, if not."""
    needs = [(action, stream_arn) for action in STREAM_READ_ACTIONS]
    denial = policies.check(mapping.function, needs)
    if denial is not None:
        record(denial)
        raise MappingRefused(
            f"{mapping.name}: Cannot access stream {stream_arn}. Please ensure the role can "
            "perform the GetRecords, GetShardIterator, DescribeStream, and ListStreams "
            f"Actions on your stream in IAM ({denial.message})"
        )
    if mapping.on_failure is None:
        return
    denial = policies.check(mapping.function, [("sqs:SendMessage", mapping.on_failure)])
    if denial is not None:
        record(denial)
        raise MappingRefused(
            f"{mapping.name}: The provided execution role does not have permissions to call "
            f"SendMessage on SQS ({denial.message})"
        )


def _integer(
    props: Mapping[str, Any], key: str, default: int, low: int, high: int, where: str
) -> int:
    value = props.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise MappingRefused(f"{where}: {key} must be an integer from {low} to {high}")
    return value


def _stream_table(template: Template, stream: Any, where: str) -> str:
    target = stream.get("Fn::GetAtt") if isinstance(stream, dict) else None
    if not isinstance(target, list) or len(target) != 2 or target[1] != "StreamArn":
        raise MappingRefused(f"{where}: Stream must be !GetAtt <Table>.StreamArn")
    table = template.resources.get(target[0]) or {}
    if table.get("Type") != "AWS::DynamoDB::Table":
        raise MappingRefused(f"{where}: {target[0]} is not a table of the template")
    if not ((table.get("Properties") or {}).get("StreamSpecification") or {}).get("StreamViewType"):
        raise MappingRefused(f"{where}: {target[0]} has no StreamSpecification")
    return str(target[0])


def _destination(
    template: Template, config: Any, refs: Mapping[str, str], where: str
) -> str | None:
    if config is None:
        return None
    if not isinstance(config, dict) or set(config) - {"OnFailure"}:
        raise MappingRefused(f"{where}: DestinationConfig may only have OnFailure")
    on_failure = config.get("OnFailure") or {}
    if set(on_failure) - {"Destination", "Type"} or on_failure.get("Type", "SQS") != "SQS":
        raise MappingRefused(f"{where}: only an SQS queue is emulated as OnFailure destination")
    arn = template.resolve(on_failure.get("Destination"), {**template_arns(template), **refs})
    if arn is None or not arn.startswith("arn:aws:sqs:"):
        raise MappingRefused(f"{where}: OnFailure Destination must be a queue of the template")
    return arn


def _filters(criteria: Any, where: str) -> tuple[Pattern, ...]:
    if criteria is None:
        return ()
    filters = criteria.get("Filters") if isinstance(criteria, dict) else None
    if not isinstance(filters, list) or set(criteria) != {"Filters"}:
        raise MappingRefused(f"{where}: FilterCriteria must be {{Filters: [{{Pattern: ...}}]}}")
    if len(filters) > _MAX_FILTERS:
        raise MappingRefused(f"{where}: at most {_MAX_FILTERS} filters per mapping")
    patterns = []
    for entry in filters:
        if not isinstance(entry, dict) or set(entry) != {"Pattern"}:
            raise MappingRefused(f"{where}: each filter is {{Pattern: '<json>'}}")
        if not isinstance(entry["Pattern"], str):
            raise MappingRefused(f"{where}: a filter Pattern must be a JSON string")
        patterns.append(Pattern.parse(entry["Pattern"]))
    return tuple(patterns)
