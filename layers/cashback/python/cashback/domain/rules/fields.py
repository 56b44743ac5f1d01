"""Field types of a rule set, the strict base of its models, and the one way its
validators report a problem.

Rates and other fractions are `Decimal` and arrive as JSON *strings* ("0.05"): a JSON
number would be parsed as a binary float first (pydantic reads 0.1234567890123456789 as
0.12345678901234568), and no float touches money. Money is an integer of minor units.
Custom checks raise a `ValidationError` whose `loc` is the offending field, so a 422 names
it exactly as pydantic's own errors do (pydantic prefixes the parent path when nested).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    StringConstraints,
    WithJsonSchema,
)
from pydantic_core import InitErrorDetails, PydanticCustomError, ValidationError

from cashback.domain.money import MAX_AMOUNT


# The base of every model of a rule set: strict, immutable, and its attribute docstrings
# are the JSON Schema's descriptions (a docstring here would describe every model).
class Rules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


Channel = Literal["online", "store", "app"]
CHANNELS: tuple[Channel, ...] = ("online", "store", "app")

# The storefront's own ids (SKUs, categories): the same alphabet as the purchase request.
# Ids the program manager chooses (campaigns): they end up in budget counter keys.
RULE_ID_PATTERN = r"^[a-z0-9][a-z0-9_\-]{0,63}$"
RuleId = Annotated[str, StringConstraints(pattern=RULE_ID_PATTERN)]
Label = Annotated[str, StringConstraints(min_length=1, max_length=80, strip_whitespace=True)]

# Descriptions belong to the fields (attribute docstrings): a type's would override them.
Money = Annotated[StrictInt, Field(ge=0, le=MAX_AMOUNT)]  # minor units: 12990 is 129.90
LedgerAmount = Annotated[StrictInt, Field(ge=0, le=MAX_AMOUNT)]  # minor units, or points
Days = Annotated[StrictInt, Field(ge=0, le=3650)]
PositiveDays = Annotated[StrictInt, Field(ge=1, le=3650)]

RATE_DECIMALS = 6
RATE_PATTERN = r"^(0(\.[0-9]{1,6})?|1(\.0{1,6})?)$"
FACTOR_PATTERN = r"^[0-9]{1,7}(\.[0-9]{1,6})?$"


def _decimal_text(pattern: str, example: str) -> Any:
    compiled = re.compile(pattern)

    def check(value: Any) -> Any:
        if isinstance(value, Decimal):
            return value
        if isinstance(value, str) and compiled.fullmatch(value):
            return Decimal(value)
        raise PydanticCustomError(
            "decimal_text",
            "must be a decimal written as a string, such as {example}",
            {"example": f'"{example}"'},
        )

    return BeforeValidator(check)


Rate = Annotated[
    Decimal,
    _decimal_text(RATE_PATTERN, "0.05"),
    Field(ge=0, le=1, decimal_places=RATE_DECIMALS),
    WithJsonSchema({"type": "string", "pattern": RATE_PATTERN, "examples": ["0.05"]}),
]
Factor = Annotated[
    Decimal,
    _decimal_text(FACTOR_PATTERN, "100"),
    Field(gt=0, le=10_000_000, decimal_places=RATE_DECIMALS),
    WithJsonSchema({"type": "string", "pattern": FACTOR_PATTERN, "examples": ["100"]}),
]

# An experiment variant's share of customers: a whole number of the 10,000 buckets
# customers are hashed into (rules.experiments), so at most four decimals.
SHARE_PATTERN = r"^(0\.[0-9]{1,4}|1(\.0{1,4})?)$"
Share = Annotated[
    Decimal,
    _decimal_text(SHARE_PATTERN, "0.5"),
    Field(gt=0, le=1, decimal_places=4),
    WithJsonSchema({"type": "string", "pattern": SHARE_PATTERN, "examples": ["0.5"]}),
]

Problem = tuple[tuple[str | int, ...], str, Any]


def fail(title: str, problems: Sequence[Problem]) -> None:
    """Raise one ValidationError with every problem at its own field (no-op when empty)."""
    if problems:
        raise ValidationError.from_exception_data(
            title,
            [
                InitErrorDetails(type=_error(message), loc=loc, input=value)
                for loc, message, value in problems
            ],
        )


def _error(message: str) -> PydanticCustomError:
    # The message goes in as context: a brace in it must not be read as a placeholder.
    return PydanticCustomError("rule_set", "{message}", {"message": message})
