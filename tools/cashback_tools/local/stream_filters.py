"""Lambda's event filtering for a stream's event source mapping (FilterCriteria): a record
reaches the function when any pattern matches it; the others are dropped before batching.

A pattern is a JSON object mirroring the record (`{"dynamodb": {"Keys": ...}}`); its
leaves are lists of alternatives: exact values (strings, numbers, null, booleans) and the
operators prefix, suffix, equals-ignore-case, anything-but (values, or one prefix/suffix),
numeric and exists. Anything else ($or, wildcard, cidr, ...) is refused when the template
is read, so no pattern lets through what Lambda would drop or drops what it would deliver.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cashback_tools.local.template import TemplateError

_NUMERIC_OPERATORS = {"=", "<", "<=", ">", ">="}
_MISSING = object()


class FilterError(TemplateError):
    """A FilterCriteria pattern the local stack does not evaluate (or Lambda would refuse)."""


@dataclass(frozen=True)
class Pattern:
    """One compiled filter pattern: `source` as written, `tree` checked."""

    source: str
    tree: dict[str, Any]

    @classmethod
    def parse(cls, source: str) -> Pattern:
        try:
            tree = json.loads(source)
        except ValueError as exc:
            raise FilterError(f"filter pattern is not JSON: {source!r} ({exc})") from exc
        if not isinstance(tree, dict) or not tree:
            raise FilterError(f"filter pattern must be a non-empty JSON object: {source!r}")
        _check_object(tree, source)
        return cls(source, tree)

    def matches(self, record: Any) -> bool:
        return _object_matches(self.tree, record)


def any_matches(patterns: Sequence[Pattern], record: Any) -> bool:
    """Lambda's rule: no patterns keep everything; otherwise patterns are OR'ed."""
    return not patterns or any(pattern.matches(record) for pattern in patterns)


def _check_object(tree: dict[str, Any], source: str) -> None:
    for key, value in tree.items():
        if key.startswith("$"):
            raise FilterError(f"filter operator {key!r} is not emulated locally: {source!r}")
        if isinstance(value, dict):
            if not value:
                raise FilterError(f"empty object under {key!r} in filter pattern {source!r}")
            _check_object(value, source)
        elif isinstance(value, list) and value:
            for alternative in value:
                _check_alternative(alternative, source)
        else:
            raise FilterError(
                f"filter pattern leaves must be non-empty lists ({key!r}): {source!r}"
            )


def _check_alternative(alternative: Any, source: str) -> None:
    if alternative is None or isinstance(alternative, str | int | float | bool):
        return
    if not isinstance(alternative, dict) or len(alternative) != 1:
        raise FilterError(f"unsupported filter value {alternative!r} in {source!r}")
    ((operator, argument),) = alternative.items()
    valid = {
        "prefix": lambda a: isinstance(a, str),
        "suffix": lambda a: isinstance(a, str),
        "equals-ignore-case": lambda a: isinstance(a, str),
        "exists": lambda a: isinstance(a, bool),
        "numeric": _valid_numeric,
        "anything-but": _valid_anything_but,
    }.get(operator)
    if valid is None:
        raise FilterError(f"filter operator {operator!r} is not emulated locally: {source!r}")
    if not valid(argument):
        raise FilterError(f"bad argument for {operator!r} in filter pattern {source!r}")


def _valid_numeric(argument: Any) -> bool:
    if not isinstance(argument, list) or not argument or len(argument) % 2:
        return False
    pairs = zip(argument[::2], argument[1::2], strict=True)
    return (
        all(op in _NUMERIC_OPERATORS and _is_number(value) for op, value in pairs)
        and len(argument) <= 4
    )


def _valid_anything_but(argument: Any) -> bool:
    if isinstance(argument, dict):
        return len(argument) == 1 and next(iter(argument)) in ("prefix", "suffix")
    values = argument if isinstance(argument, list) else [argument]
    return bool(values) and all(isinstance(v, str) or _is_number(v) for v in values)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _object_matches(tree: dict[str, Any], record: Any) -> bool:
    for key, expected in tree.items():
        value = record.get(key, _MISSING) if isinstance(record, dict) else _MISSING
        if isinstance(expected, dict):
            if not _object_matches(expected, value):
                return False
        elif not _leaf_matches(expected, value):
            return False
    return True


def _leaf_matches(alternatives: list[Any], value: Any) -> bool:
    values = value if isinstance(value, list) else [value]
    for alternative in alternatives:
        if isinstance(alternative, dict) and "exists" in alternative:
            if (value is not _MISSING) == alternative["exists"]:
                return True
            continue
        if any(v is not _MISSING and _value_matches(alternative, v) for v in values):
            return True
    return False


def _value_matches(alternative: Any, value: Any) -> bool:
    if not isinstance(alternative, dict):
        return bool(_same(alternative, value))
    ((operator, argument),) = alternative.items()
    if operator == "numeric":
        return _is_number(value) and _numeric(argument, value)
    if not isinstance(value, str) and operator != "anything-but":
        return False
    if operator == "prefix":
        return bool(value.startswith(argument))
    if operator == "suffix":
        return bool(value.endswith(argument))
    if operator == "equals-ignore-case":
        return bool(value.lower() == argument.lower())
    # anything-but: a value that is none of these (a prefix/suffix, for strings only)
    if isinstance(argument, dict):
        return isinstance(value, str) and not _value_matches(argument, value)
    excluded = argument if isinstance(argument, list) else [argument]
    return not any(_same(item, value) for item in excluded)


def _same(expected: Any, value: Any) -> bool:
    if _is_number(expected) and _is_number(value):
        return float(expected) == float(value)
    return type(expected) is type(value) and bool(expected == value)


def _numeric(argument: list[Any], value: float) -> bool:
    checks = {
        "=": lambda bound: value == bound,
        "<": lambda bound: value < bound,
        "<=": lambda bound: value <= bound,
        ">": lambda bound: value > bound,
        ">=": lambda bound: value >= bound,
    }
    return all(checks[op](bound) for op, bound in zip(argument[::2], argument[1::2], strict=True))
