"""The HTTP edge's strict body reader (issue 8, finding 4), without a stack."""

import base64
import json

import pytest

from cashback.api.bodies import MAX_JSON_DEPTH, StrictJson, body_problem
from cashback.api.errors import http_status
from cashback.domain.errors import BadRequest


def _event(
    body: bytes, content_type: str | None = "application/json", *, encoded: bool = False
) -> dict[str, object]:
    headers = {"Content-Type": content_type} if content_type is not None else {}
    text = base64.b64encode(body).decode() if encoded else body.decode("utf-8")
    return {
        "httpMethod": "POST",
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "body": text,
        "isBase64Encoded": encoded,
    }


def test_brackets_and_quotes_inside_strings_do_not_count_as_nesting() -> None:
    note = '[[[{{{ \\" ]]] ' * 40
    assert StrictJson.loads(json.dumps({"note": note})) == {"note": note}


def test_nesting_up_to_the_limit_is_read_and_one_more_is_refused() -> None:
    deepest = "[" * (MAX_JSON_DEPTH - 1) + "{}" + "]" * (MAX_JSON_DEPTH - 1)
    assert StrictJson.loads(deepest) is not None
    with pytest.raises(BadRequest) as refused:
        StrictJson.loads("[" + deepest + "]")
    assert refused.value.code == "json_too_deep"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ('{"a": 1, "a": 1}', "duplicate_key"),
        ('{"a": {"b": 1, "b": 2}}', "duplicate_key"),
        ('[{"x": 1}, {"x": 2, "x": 3}]', "duplicate_key"),
        ('{"a": Infinity}', "invalid_json"),
        ('{"a": -Infinity}', "invalid_json"),
        ('{"a": NaN}', "invalid_json"),
        ('{"a": "\\udc00"}', "invalid_json"),
        ('{"\\ud800": 1}', "invalid_json"),
        ('{"a": ' + "1" * 5000 + "}", "invalid_json"),
        ("{oops", "invalid_json"),
    ],
)
def test_what_json_loads_would_let_through_is_refused(text: str, code: str) -> None:
    with pytest.raises(BadRequest) as refused:
        StrictJson.loads(text)
    assert refused.value.code == code


def test_the_same_key_in_sibling_objects_is_fine() -> None:
    assert StrictJson.loads('[{"x": 1}, {"x": 2}]') == [{"x": 1}, {"x": 2}]


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=utf-8", 'APPLICATION/JSON;charset="UTF-8"'],
)
def test_json_in_utf8_passes(content_type: str) -> None:
    assert body_problem(_event(b'{"a": "\xc3\xa7"}', content_type)) is None


@pytest.mark.parametrize(
    ("body", "content_type", "encoded", "status", "code"),
    [
        (b"{}", "text/plain", False, 415, "unsupported_media_type"),
        (b"{}", None, False, 415, "unsupported_media_type"),
        (b"{}", "application/json; charset=utf-16", False, 415, "unsupported_media_type"),
        (b"{}", "application/jsonx", False, 415, "unsupported_media_type"),
        (b'{"a": "\xe7"}', "application/json", True, 400, "invalid_encoding"),
        (b"", "application/json", False, 400, "empty_body"),
        (b"x" * 40_000, "text/plain", False, 413, "body_too_large"),
    ],
)
def test_bodies_the_edge_refuses(
    body: bytes, content_type: str | None, encoded: bool, status: int, code: str
) -> None:
    problem = body_problem(_event(body, content_type, encoded=encoded))
    assert problem is not None and (http_status(problem).status, problem.code) == (status, code)


def test_a_get_is_not_asked_for_a_body() -> None:
    assert body_problem({**_event(b"not json", "text/plain"), "httpMethod": "GET"}) is None
