"""Each function's worker processes, from the gateway's side (worker.py is the other side):
a worker's life (start, init phase, invocations, timeouts, crashes) and the pools of warm ones.

`Pools.call` runs a function as Lambda would: in a warm worker, or a new one up to the cap.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

from cashback_tools.local import build
from cashback_tools.local.iam import REGION
from cashback_tools.local.invocation import FunctionError, LambdaContext
from cashback_tools.local.template import FunctionSpec, Template
from cashback_tools.local.worker import read_message, write_message

WORKER_SCRIPT = Path(__file__).with_name("worker.py")
# Lambda's init phase; generous here, because a loaded test machine imports slowly.
INIT_TIMEOUT = 60.0
# What the Lambda Python runtime sets in every function's environment (sam local too).
_LAMBDA_ENV = {
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "AWS_SAM_LOCAL": "true",
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
    "TZ": ":UTC",
    "LANG": "en_US.UTF-8",
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    # No ~/.aws of the developer's, no instance metadata: only what the function is given.
    "AWS_CONFIG_FILE": "/nonexistent/aws-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
    "AWS_EC2_METADATA_DISABLED": "true",
}
Environment = Callable[[FunctionSpec], dict[str, str]]


def worker_environment(
    spec: FunctionSpec, stack_env: Mapping[str, str], eventbridge_url: str | None
) -> dict[str, str]:
    """What Lambda sets, the function's variables from the template, the stack's, and
    credentials that name the function (the contract with the local IAM check)."""
    env = {
        **_LAMBDA_ENV,
        "AWS_LAMBDA_FUNCTION_NAME": spec.logical_id,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.logical_id}",
        "LAMBDA_TASK_ROOT": str(spec.code_dir),
        "_HANDLER": spec.handler,
        **spec.environment,
        **stack_env,
        "AWS_ACCESS_KEY_ID": spec.logical_id,
        "AWS_SECRET_ACCESS_KEY": "local",
    }
    if eventbridge_url is not None:
        env.setdefault("AWS_ENDPOINT_URL_EVENTBRIDGE", eventbridge_url)
    env.pop("AWS_SESSION_TOKEN", None)
    return env


class Pools:
    """A pool per function, made on its first call, each of up to `cap` workers."""

    def __init__(
        self,
        template: Template,
        environment: Environment,
        *,
        cap: int,
        init_timeout: float,
        enforce_timeouts: bool,
    ) -> None:
        self.template, self.environment = template, environment
        self.cap, self.init_timeout, self.enforce_timeouts = cap, init_timeout, enforce_timeouts
        self._pools: dict[str, _Pool] = {}
        self._lock = threading.Lock()

    def call(self, spec: FunctionSpec, event: Any, context: LambdaContext) -> Any:
        """The function's result, run by a warm worker (or a new one, up to the cap); any
        failure is a FunctionError, logged to stderr with the function's name."""
        pool = self._pool(spec)
        try:
            worker = pool.acquire()
            healthy = False
            try:
                result = worker.invoke(
                    event, context, spec.timeout if self.enforce_timeouts else None
                )
                healthy = True
                return result
            except FunctionError:
                healthy = worker.alive
                raise
            finally:
                pool.release(worker, healthy)
        except FunctionError as error:
            if str(error) != "Unauthorized":  # an authorizer's 401, not a failure
                _log_failure(spec.logical_id, error)
            raise

    def _pool(self, spec: FunctionSpec) -> _Pool:
        with self._lock:
            if spec.logical_id not in self._pools:
                path = build.function_path(self.template, spec)
                self._pools[spec.logical_id] = _Pool(self, spec, path)
            return self._pools[spec.logical_id]

    def sizes(self) -> dict[str, int]:
        """How many workers each function has now (warm or busy)."""
        with self._lock:
            return {name: pool.size for name, pool in self._pools.items()}

    def close(self) -> None:
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.close()


class _Worker:
    """One function's execution environment: a `python -I -S` process with the function's
    import path, talking over two pipes of its own."""

    def __init__(self, spec: FunctionSpec, env: dict[str, str]) -> None:
        self.spec = spec
        to_worker, self._requests = os.pipe()
        self._replies, from_worker = os.pipe()
        try:
            self.process = subprocess.Popen(  # noqa: S603 - our own worker script
                [sys.executable, "-I", "-S", str(WORKER_SCRIPT), str(to_worker), str(from_worker)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=spec.code_dir,
                pass_fds=(to_worker, from_worker),
                close_fds=True,
            )
        except BaseException:
            for fd in (self._requests, self._replies):
                os.close(fd)
            raise
        finally:
            os.close(to_worker)
            os.close(from_worker)
        self.alive = True
        assert self.process.stdout is not None
        self._relay = threading.Thread(
            target=_relay,
            args=(spec.logical_id, self.process.stdout),
            name=f"log-{spec.logical_id}",
            daemon=True,
        )
        self._relay.start()

    def initialise(self, path: list[str], timeout: float) -> None:
        """Lambda's init phase: import the handler. FunctionError if it cannot."""
        write_message(
            self._requests,
            {"path": path, "task_root": str(self.spec.code_dir), "handler": self.spec.handler},
        )
        reply = self._receive(timeout, None)
        if "init_error" in reply:
            self.kill()
            raise FunctionError.from_reply(reply["init_error"])

    def invoke(self, event: Any, context: LambdaContext, timeout: float | None) -> Any:
        context.start()  # the function's clock starts now, after any wait or init
        try:
            write_message(self._requests, {"event": event, "context": context.fields()})
        except OSError as exc:
            self.kill()
            raise self._exited(context) from exc
        reply = self._receive(timeout, context)
        if "error" in reply:
            raise FunctionError.from_reply(reply["error"])
        return json.loads(reply["result"])

    def _receive(self, timeout: float | None, context: LambdaContext | None) -> dict[str, Any]:
        ready, _, _ = select.select([self._replies], [], [], timeout)
        if not ready:
            self.kill()
            if context is None:
                raise FunctionError(
                    "Runtime.InitTimeout", f"Init phase did not finish in {timeout:.0f} seconds"
                )
            raise FunctionError(
                "Sandbox.Timedout",
                f"RequestId: {context.aws_request_id} Error: "
                f"Task timed out after {self.spec.timeout:.2f} seconds",
            )
        reply = read_message(self._replies)
        if reply is None:
            self.kill()
            raise self._exited(context)
        return dict(reply)

    def _exited(self, context: LambdaContext | None) -> FunctionError:
        code = self.process.wait()
        request = f"RequestId: {context.aws_request_id} " if context else ""
        return FunctionError(
            "Runtime.ExitError", f"{request}Error: Runtime exited with error: exit status {code}"
        )

    def kill(self, *, graceful: bool = False) -> None:
        """Stop the process (at once, as Lambda does after a timeout or a crash; a graceful
        stop lets an idle worker end by itself) and free its pipes."""
        if not self.alive:
            return
        self.alive = False
        with contextlib.suppress(OSError):
            os.close(self._requests)  # a worker waiting for work ends by itself
        if self.process.poll() is None:
            try:
                self.process.wait(timeout=2 if graceful else 0)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        with contextlib.suppress(OSError):
            os.close(self._replies)
        self._relay.join(timeout=2)


class _Pool:
    """A function's workers: a warm one is reused; with none free a new one starts, up to
    `cap`; past that a request waits for a free one (as Lambda's reserved concurrency)."""

    def __init__(self, pools: Pools, spec: FunctionSpec, path: list[str]) -> None:
        self.pools, self.spec, self.cap = pools, spec, max(1, pools.cap)
        self.path = path
        self.size = 0
        self._idle: list[_Worker] = []
        self._closed = False
        self._changed = threading.Condition()

    def acquire(self) -> _Worker:
        with self._changed:
            while True:
                if self._closed:
                    raise FunctionError("Runtime.Unavailable", "the local gateway is stopping")
                if self._idle:
                    return self._idle.pop()
                if self.size < self.cap:
                    self.size += 1
                    break
                self._changed.wait()
        try:
            worker = _Worker(self.spec, self.pools.environment(self.spec))
            worker.initialise(self.path, self.pools.init_timeout)
            return worker
        except BaseException:
            with self._changed:
                self.size -= 1
                self._changed.notify()
            raise

    def release(self, worker: _Worker, healthy: bool) -> None:
        with self._changed:
            if healthy and worker.alive and not self._closed:
                self._idle.append(worker)
                self._changed.notify()
                return
            self.size -= 1
            self._changed.notify()
        worker.kill()

    def close(self) -> None:
        with self._changed:
            self._closed = True
            idle, self._idle = self._idle, []
            self.size -= len(idle)
            self._changed.notify_all()
        for worker in idle:
            worker.kill(graceful=True)


def _relay(function: str, stream: IO[bytes]) -> None:
    """A worker's prints and logs, line by line, to this process's stderr."""
    with stream:
        for line in stream:
            text = line.decode("utf-8", "replace").rstrip("\n")
            with contextlib.suppress(Exception):  # a closed or swapped stderr loses the line
                print(f"[{function}] {text}", file=sys.stderr, flush=True)


def _log_failure(function: str, error: FunctionError) -> None:
    """Loud, in the gateway's log: which function, which error (as Lambda's log would)."""
    if error.error_type.startswith("Runtime.") and error.error_type not in (
        "Runtime.MarshalError",
        "Runtime.Unavailable",
    ):
        banner = f"!!! {function} cannot run: {error.error_type}: {error}"
    else:
        banner = f"{function} failed: {error.error_type}: {error}"
    lines = [banner]
    if error.trace.strip():
        lines.append(error.trace.rstrip())
    with contextlib.suppress(Exception):
        print("\n".join(lines), file=sys.stderr, flush=True)
