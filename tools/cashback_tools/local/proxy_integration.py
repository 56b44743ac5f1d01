"""API Gateway's Lambda proxy integration (REST API, payload format 1.0): an HTTP request
becomes the handler's event, and the handler's result becomes the HTTP reply.
"""

from __future__ import annotations

import base64
import binascii
import json
import sys
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from cashback_tools.local.http_server import JSON, Reply, header
from cashback_tools.local.iam import ACCOUNT_ID
from cashback_tools.local.template import Route

API_ID = "local"
_HOP_BY_HOP = {"connection", "content-length", "keep-alive", "transfer-encoding"}
_IDENTITY_FIELDS = [
    "accessKey",
    "accountId",
    "caller",
    "cognitoAuthenticationProvider",
    "cognitoAuthenticationType",
    "cognitoIdentityId",
    "cognitoIdentityPoolId",
    "principalOrgId",
    "user",
    "userArn",
]


def proxy_event(
    route: Route,
    method: str,
    path: str,
    query: str,
    params: dict[str, str],
    headers: list[tuple[str, str]],
    body: bytes,
    source_ip: str,
    request_id: str,
    stage: str,
) -> dict[str, Any]:
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in headers:
        single[name] = value
        multi.setdefault(name, []).append(value)
    query_single: dict[str, str] = {}
    query_multi: dict[str, list[str]] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        query_single[name] = value
        query_multi.setdefault(name, []).append(value)
    try:
        text, encoded = (body.decode("utf-8") if body else None), False
    except UnicodeDecodeError:
        text, encoded = base64.b64encode(body).decode("ascii"), True
    now = time.time()
    return {
        "resource": route.path,
        "path": path,
        "httpMethod": method,
        "headers": single or None,
        "multiValueHeaders": multi or None,
        "queryStringParameters": query_single or None,
        "multiValueQueryStringParameters": query_multi or None,
        "pathParameters": params or None,
        "stageVariables": None,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": API_ID,
            "resourceId": "local",
            "resourcePath": route.path,
            "httpMethod": method,
            "path": f"/{stage}{path}",
            "stage": stage,
            "requestId": request_id,
            "extendedRequestId": request_id,
            "requestTimeEpoch": int(now * 1000),
            "requestTime": datetime.fromtimestamp(now, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "protocol": "HTTP/1.1",
            "domainName": single.get("Host") or single.get("host"),
            "identity": {
                "sourceIp": source_ip,
                "userAgent": header(headers, "User-Agent"),
                **dict.fromkeys(_IDENTITY_FIELDS),
            },
        },
        "body": text,
        "isBase64Encoded": encoded,
    }


def proxy_reply(result: Any, request_id: str) -> Reply:
    try:
        status = int(result["statusCode"])
        text = result.get("body")
        if text is not None and not isinstance(text, str):
            raise TypeError("body must be a string")
        body = (text or "").encode()
        if result.get("isBase64Encoded") and text:
            body = base64.b64decode(text, validate=True)
        headers = [(name, str(value)) for name, value in (result.get("headers") or {}).items()]
        multi = result.get("multiValueHeaders") or {}
    except (KeyError, TypeError, ValueError, AttributeError, binascii.Error) as exc:
        print(f"Malformed Lambda proxy response: {exc!r}", file=sys.stderr)
        body = json.dumps({"message": "Internal server error"}).encode()
        return Reply(502, body, json_headers(request_id))
    # API Gateway merges the two maps; for a name in both, multiValueHeaders wins.
    headers = [(n, v) for n, v in headers if n not in multi]
    headers += [(name, str(value)) for name, values in multi.items() for value in values]
    headers = [(n, v) for n, v in headers if n.lower() not in _HOP_BY_HOP]
    if not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", "application/json"))
    headers.append(("x-amzn-RequestId", request_id))
    return Reply(status, body, headers)


def json_headers(request_id: str) -> list[tuple[str, str]]:
    return [JSON, ("x-amzn-RequestId", request_id)]
