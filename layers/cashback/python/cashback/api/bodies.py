"""The request body as the edge reads it: JSON in UTF-8, sent as application/json, at most
MAX_BODY_BYTES, strict (no duplicate keys, no NaN, not too deep); anything else refused."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from cashback.domain.errors import BadRequest, CashbackError, PayloadTooLarge, UnsupportedMediaType

MAX_BODY_BYTES = 32 * 1024
# No request model nests deeper than a few levels; 32 leaves room and stays far below
# Python's recursion limit (2,000 levels made the parser, then the validator, fail).
MAX_JSON_DEPTH = 32
BODY_METHODS = ("POST", "PUT", "PATCH", "DELETE")


class StrictJson:
    """One JSON reader for every route: the edge checks the body with it and Powertools'
    resolver parses the body with it too, so nothing reads the body another way.

    Strict where `json.loads` is lenient: a key twice in one object (a proxy may read the
    first, we would read the last), NaN/Infinity, numbers past Python's digit limit, lone
    UTF-16 surrogates (DynamoDB refuses them), and nesting deeper than MAX_JSON_DEPTH."""

    @staticmethod
    def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key in result:
                raise BadRequest(
                    f"the key {key!r} appears twice in one object", code="duplicate_key"
                )
            result[key] = value
        return result

    @staticmethod
    def _no_constant(name: str) -> Any:
        raise BadRequest(f"{name} is not JSON", code="invalid_json")

    @staticmethod
    def _depth(text: str) -> int:
        deepest = depth = 0
        in_string = escaped = False
        for char in text:
            if in_string:
                if escaped:
                    escaped = False
                elif char == "\\":
                    escaped = True
                elif char == '"':
                    in_string = False
            elif char == '"':
                in_string = True
            elif char in "[{":
                depth += 1
                deepest = max(deepest, depth)
            elif char in "]}":
                depth -= 1
        return deepest

    @classmethod
    def _check_text(cls, value: Any) -> None:
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise BadRequest(
                    "a string holds a lone UTF-16 surrogate", code="invalid_json"
                ) from None
        elif isinstance(value, dict):
            for key, item in value.items():
                cls._check_text(key)
                cls._check_text(item)
        elif isinstance(value, list):
            for item in value:
                cls._check_text(item)

    @classmethod
    def loads(cls, text: str) -> Any:
        if cls._depth(text) > MAX_JSON_DEPTH:
            raise BadRequest(
                f"the body nests deeper than {MAX_JSON_DEPTH} levels", code="json_too_deep"
            )
        try:
            value = json.loads(
                text, object_pairs_hook=cls._no_duplicates, parse_constant=cls._no_constant
            )
        except (ValueError, RecursionError):  # JSONDecodeError, or too many digits
            raise BadRequest("the body is not valid JSON", code="invalid_json") from None
        cls._check_text(value)
        return value


def _header_values(event: Mapping[str, Any], name: str) -> list[str]:
    multi = event.get("multiValueHeaders") or {}
    found = [
        value for key, values in multi.items() if key.lower() == name for value in (values or [])
    ]
    if not found:
        found = [
            value
            for key, value in (event.get("headers") or {}).items()
            if key.lower() == name and value is not None
        ]
    return found


def _is_json(content_type: str) -> bool:
    media, _, params = content_type.partition(";")
    if media.strip().lower() != "application/json":
        return False
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() != "utf-8":
            return False
    return True


# Actions whose body is optional: cancel a hold (nothing to say), capture all of it,
# claim a case (no take-over).
OPTIONAL_BODY_ACTIONS = ("/capture", "/cancel", "/claim")


def _body_optional(event: Mapping[str, Any]) -> bool:
    return event.get("httpMethod") == "POST" and str(event.get("path", "")).endswith(
        OPTIONAL_BODY_ACTIONS
    )


def body_problem(event: Mapping[str, Any]) -> CashbackError | None:
    """Why the body cannot be read, or None. Every route goes through this once, before
    Powertools parses anything (its validation runs before any middleware could)."""
    if event.get("httpMethod") not in BODY_METHODS:
        return None
    raw = event.get("body") or ""
    if event.get("isBase64Encoded") and raw:
        try:
            data = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            return BadRequest("the body is not valid base64", code="invalid_encoding")
    else:
        data = raw.encode("utf-8", "surrogatepass")
    if len(data) > MAX_BODY_BYTES:
        return PayloadTooLarge(f"the body is larger than {MAX_BODY_BYTES} bytes")
    if not data.strip():
        if event.get("httpMethod") == "DELETE" or _body_optional(event):
            return None
        return BadRequest("this request needs a JSON body", code="empty_body")
    content_types_sent = _header_values(event, "content-type")
    if len(content_types_sent) != 1 or not _is_json(content_types_sent[0]):
        sent = ", ".join(content_types_sent)[:100] or "none"
        return UnsupportedMediaType(
            f"the body must be sent as Content-Type: application/json (got {sent})"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return BadRequest("the body is not UTF-8", code="invalid_encoding")
    try:
        StrictJson.loads(text)
    except BadRequest as problem:
        return problem
    return None


def as_checked(event: Mapping[str, Any]) -> Mapping[str, Any]:
    """The event as Powertools should read a body body_problem accepted: text, not base64,
    and one plain Content-Type (it matches `application/json` case-sensitively)."""
    if event.get("httpMethod") not in BODY_METHODS or not event.get("body"):
        return event
    checked = dict(event)
    if checked.get("isBase64Encoded"):
        checked["body"] = base64.b64decode(checked["body"]).decode("utf-8")
        checked["isBase64Encoded"] = False
    for name in ("headers", "multiValueHeaders"):
        if checked.get(name):
            checked[name] = {
                key: value for key, value in checked[name].items() if key.lower() != "content-type"
            }
            checked[name]["Content-Type"] = (
                "application/json" if name == "headers" else ["application/json"]
            )
    return checked
