"""One invocation of a function, from the gateway's side: the context object Lambda's
Python runtime passes to the handler, and FunctionError, the error Lambda reports.

The worker (worker.py) rebuilds the context object from `LambdaContext.fields()`.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

from cashback_tools.local.iam import ACCOUNT_ID, REGION
from cashback_tools.local.template import FunctionSpec


class FunctionError(Exception):
    """A function's error as Lambda reports it: the handler's exception, or a failure of the
    runtime (init, timeout, exit)."""

    def __init__(
        self, error_type: str, message: str, stack_trace: list[str] | None = None, trace: str = ""
    ) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.stack_trace = stack_trace or []
        self.trace = trace

    @classmethod
    def from_reply(cls, failure: dict[str, Any]) -> FunctionError:
        """The error a worker sent (worker.py's `_fault` and `_error`)."""
        return cls(
            failure["errorType"],
            failure["errorMessage"],
            failure.get("stackTrace"),
            failure.get("trace", ""),
        )


class LambdaContext:
    """The context object the Python Lambda runtime passes to a handler."""

    def __init__(self, spec: FunctionSpec) -> None:
        self.function_name = spec.logical_id
        self.function_version = "$LATEST"
        self.invoked_function_arn = function_arn(spec.logical_id)
        # The real runtime reads it from the environment, so it is a string there too.
        self.memory_limit_in_mb = str(spec.memory)
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{spec.logical_id}"
        self.log_stream_name = f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"
        self.identity = None
        self.client_context = None
        self.timeout = spec.timeout
        self._deadline = time.monotonic() + spec.timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))

    def start(self) -> None:
        self._deadline = time.monotonic() + self.timeout

    def fields(self) -> dict[str, Any]:
        """What the worker rebuilds its context object from."""
        return {
            "function_name": self.function_name,
            "function_version": self.function_version,
            "invoked_function_arn": self.invoked_function_arn,
            "memory_limit_in_mb": self.memory_limit_in_mb,
            "aws_request_id": self.aws_request_id,
            "log_group_name": self.log_group_name,
            "log_stream_name": self.log_stream_name,
            "remaining_ms": self.get_remaining_time_in_millis(),
        }


def function_arn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}"
