"""The local stack's HTTP servers (the gateway, the IAM proxy): a ThreadingHTTPServer on
127.0.0.1 served from a thread of its own, started and stopped the same way for both.

Also the settings both request handlers share, and the Reply the gateway's APIs answer with.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

JSON = ("Content-Type", "application/json")


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)


def header(headers: list[tuple[str, str]], name: str) -> str | None:
    """The last value of header `name` (case-insensitive), or None."""
    found = [value for key, value in headers if key.lower() == name.lower()]
    return found[-1] if found else None


class Server(ThreadingHTTPServer):
    daemon_threads = True
    # The default backlog of 5 makes concurrent clients wait a second for a SYN retry.
    request_queue_size = 128

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], owner: Any
    ) -> None:
        super().__init__(address, handler)
        self.owner = owner  # what the handler serves: the gateway or the proxy


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60  # idle keep-alive connections must not hold a thread forever
    # Headers and body go out in two writes; with Nagle on, keep-alive clients wait ~40 ms.
    disable_nagle_algorithm = True

    @property
    def owner(self) -> Any:
        assert isinstance(self.server, Server)
        return self.server.owner

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base class name
        # The base class would log the full request line to stderr; the owner logs its own.
        pass


class LocalServer:
    """`handler` serving `owner` on (host, port), port 0 for any free one, in a daemon
    thread named `name`, from start() until stop()."""

    def __init__(
        self,
        owner: Any,
        handler: type[Handler],
        address: tuple[str, int],
        name: str,
    ) -> None:
        self.owner, self.handler, self.address, self.name = owner, handler, address, name
        self._server: Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError(f"the {self.name} is not running; call start() first")
        return f"http://{self.address[0]}:{self._server.server_port}"

    def start(self) -> None:
        if self._server is not None:
            return
        self._server = Server(self.address, self.handler, self.owner)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=self.name, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
