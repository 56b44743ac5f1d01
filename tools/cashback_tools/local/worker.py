"""One Lambda execution environment of the local stack: a worker process per function.

The gateway starts it as `python -I -S worker.py <in fd> <out fd>`: isolated, without site
(so nothing of the developer's virtual environment), its import path given by the gateway
in the first message (the function's CodeUri, its built layers, the Lambda runtime's
packages) in front of the standard library. Like Lambda's Python runtime it imports the
handler once (the init phase), then runs one invocation at a time until its input closes.

Requests and replies travel as length-prefixed JSON over two pipes of their own, so what
the handler prints (stdout and stderr, which the gateway relays to its log) cannot corrupt
them. Standard library only: this file runs before any layer is on the path.
"""

from __future__ import annotations

import importlib
import json
import os
import struct
import sys
import time
import traceback
from typing import Any

_HEADER = struct.Struct(">I")


def read_message(fd: int) -> Any:
    """The next message on fd, or None at the end of the stream."""
    header = _read_exactly(fd, _HEADER.size)
    if header is None:
        return None
    body = _read_exactly(fd, _HEADER.unpack(header)[0])
    if body is None:
        return None
    return json.loads(body)


def write_message(fd: int, message: Any) -> None:
    body = json.dumps(message).encode()
    data = memoryview(_HEADER.pack(len(body)) + body)
    while data:
        data = data[os.write(fd, data) :]


def _read_exactly(fd: int, size: int) -> bytes | None:
    chunks, left = [], size
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


class LambdaContext:
    """The context object the Python Lambda runtime passes to a handler."""

    def __init__(self, fields: dict[str, Any]) -> None:
        self._deadline = time.monotonic() + fields.pop("remaining_ms") / 1000
        self.function_name = fields["function_name"]
        self.function_version = fields["function_version"]
        self.invoked_function_arn = fields["invoked_function_arn"]
        self.memory_limit_in_mb = fields["memory_limit_in_mb"]
        self.aws_request_id = fields["aws_request_id"]
        self.log_group_name = fields["log_group_name"]
        self.log_stream_name = fields["log_stream_name"]
        self.identity = None
        self.client_context = None

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _fault(error_type: str, message: str, stack: list[str] | None = None) -> dict[str, Any]:
    trace = traceback.format_exc() if sys.exc_info()[0] else ""
    return {
        "errorType": error_type,
        "errorMessage": message,
        "stackTrace": stack or [],
        "trace": trace,
    }


def _error(exc: BaseException) -> dict[str, Any]:
    return {
        "errorType": type(exc).__name__,
        "errorMessage": str(exc),
        "stackTrace": traceback.format_list(traceback.extract_tb(exc.__traceback__)),
        "trace": traceback.format_exc(),
    }


def load_handler(handler: str) -> tuple[Any, dict[str, Any] | None]:
    """(the handler, None) or (None, the error Lambda's Python runtime reports at init)."""
    module_name, _, name = handler.rpartition(".")
    if not module_name:
        return None, _fault(
            "Runtime.MalformedHandlerName", f"Bad handler '{handler}': not enough values to unpack"
        )
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as exc:
        return None, _fault(
            "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}"
        )
    except SyntaxError as exc:
        return None, _fault(
            "Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {exc}"
        )
    except Exception as exc:  # noqa: BLE001 - reported as the function's init error
        return None, _error(exc)
    function = getattr(module, name, None)
    if function is None:
        return None, _fault(
            "Runtime.HandlerNotFound", f"Handler '{name}' missing on module '{module_name}'"
        )
    return function, None


def main() -> int:
    requests, replies = int(sys.argv[1]), int(sys.argv[2])
    config = read_message(requests)
    if config is None:
        return 0
    sys.path[:0] = config["path"]
    os.chdir(config["task_root"])
    handler, failure = load_handler(config["handler"])
    if failure is not None:
        write_message(replies, {"init_error": failure})
        return 1
    write_message(replies, {"ready": True})
    while (request := read_message(requests)) is not None:
        context = LambdaContext(request["context"])
        try:
            result = handler(request["event"], context)
            try:
                reply: dict[str, Any] = {"result": json.dumps(result)}
            except (TypeError, ValueError) as exc:
                reply = {
                    "error": _fault("Runtime.MarshalError", f"Unable to marshal response: {exc}")
                }
        except Exception as exc:  # noqa: BLE001 - any handler failure is the function's error
            reply = {"error": _error(exc)}
        sys.stdout.flush()
        sys.stderr.flush()
        write_message(replies, reply)
    return 0


if __name__ == "__main__":
    sys.exit(main())
