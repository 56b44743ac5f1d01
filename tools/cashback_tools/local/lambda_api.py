"""Lambda's Invoke API on the gateway's port (like `sam local start-lambda`): boto3's lambda
client pointed at the gateway's URL runs any function of the template.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from cashback_tools.local.http_server import JSON, Reply, header
from cashback_tools.local.invocation import FunctionError, LambdaContext, function_arn
from cashback_tools.local.template import FunctionSpec

INVOKE_PATH = re.compile(r"/2015-03-31/functions/([^/]+)/invocations")
# Runs a function in its worker: its result, or FunctionError.
Call = Callable[[FunctionSpec, Any, LambdaContext], Any]


def invoke(
    functions: Mapping[str, FunctionSpec],
    call: Call,
    name: str,
    headers: list[tuple[str, str]],
    body: bytes,
) -> Reply:
    """What Lambda answers to Invoke on function `name` (a name or an ARN)."""
    if name.startswith("arn:"):
        name = name.split(":function:", 1)[-1].split(":")[0]
    spec = functions.get(name)
    if spec is None:
        message = f"Function not found: {function_arn(name)}"
        return _lambda_error(404, "ResourceNotFoundException", message)
    mode = header(headers, "X-Amz-Invocation-Type") or "RequestResponse"
    if mode == "DryRun":
        return Reply(204)
    try:
        event = json.loads(body) if body.strip() else {}
    except ValueError as exc:
        message = f"Could not parse request body into json: {exc}"
        return _lambda_error(400, "InvalidRequestContentException", message)
    context = LambdaContext(spec)
    extra = [("X-Amz-Executed-Version", "$LATEST"), JSON]
    try:
        # The worker marshalled it already (Runtime.MarshalError when it cannot).
        payload = json.dumps(call(spec, event, context)).encode()
    except FunctionError as exc:
        error = {
            "errorMessage": str(exc),
            "errorType": exc.error_type,
            "requestId": context.aws_request_id,
            "stackTrace": exc.stack_trace,
        }
        extra.append(("X-Amz-Function-Error", "Unhandled"))
        return Reply(200, json.dumps(error).encode(), extra)
    # Event invocations run to the end here too, which keeps local runs deterministic.
    return Reply(202, b"", extra) if mode == "Event" else Reply(200, payload, extra)


def _lambda_error(status: int, error_type: str, message: str) -> Reply:
    body = json.dumps({"Type": "User", "message": message}).encode()
    headers = [JSON, ("x-amzn-errortype", error_type)]
    return Reply(status, body, headers)
