"""An IAM-checking proxy in front of DynamoDB Local, on 127.0.0.1.

DynamoDB Local checks no signature and no permission. The functions of the local stack
talk to this proxy instead (`AWS_ENDPOINT_URL_DYNAMODB`): a call signed with a function's
access key id is checked against that function's policy statements in template.yaml and
refused as DynamoDB refuses it (HTTP 400 AccessDeniedException); everything else is
forwarded byte for byte, unsigned requests and other callers' included.
"""

from __future__ import annotations

import http.client
import json
import sys
import threading
import traceback
import uuid
from typing import Any, Self
from urllib.parse import urlsplit

from cashback_tools.local.http_server import Handler, LocalServer
from cashback_tools.local.iam import Policies, access_denied_body, access_key_id, dynamodb_needs

_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "content-length",
}


class IamProxy:
    def __init__(
        self, upstream: str, policies: Policies, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        parts = urlsplit(upstream)
        if parts.scheme != "http" or not parts.hostname or not parts.port:
            raise ValueError(f"upstream must be http://host:port, not {upstream!r}")
        self.upstream = (parts.hostname, parts.port)
        self.policies = policies
        self.denials: list[dict[str, str]] = []
        self._lock = threading.Lock()
        # Each of the server's threads keeps its own connection to DynamoDB Local.
        self.connections = threading.local()
        self._http = LocalServer(self, _Handler, (host, port), "iam-proxy")

    @property
    def url(self) -> str:
        return self._http.url

    def start(self) -> Self:
        self._http.start()
        return self

    def stop(self) -> None:
        self._http.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def refusal(self, headers: Any, body: bytes) -> bytes | None:
        """The AccessDeniedException body for a call IAM refuses, or None to forward it."""
        caller = access_key_id(headers.get("Authorization"))
        if not self.policies.restricts(caller):
            return None
        try:
            request = json.loads(body) if body else {}
        except ValueError:
            return None  # DynamoDB itself answers a malformed body
        if not isinstance(request, dict):
            return None
        denial = self.policies.check(caller, dynamodb_needs(headers.get("X-Amz-Target"), request))
        if denial is None:
            return None
        with self._lock:
            self.denials.append(
                {
                    "principal": denial.principal,
                    "action": denial.action,
                    "resource": denial.resource,
                }
            )
        print(
            f"IAM denied {denial.principal}: {denial.action} on {denial.resource}", file=sys.stderr
        )
        return access_denied_body(denial)


class _Handler(Handler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        refused = self.owner.refusal(self.headers, body)
        if refused is not None:
            self._send(
                400,
                [
                    ("Content-Type", "application/x-amz-json-1.0"),
                    ("x-amzn-RequestId", str(uuid.uuid4())),
                ],
                refused,
            )
            return
        try:
            status, headers, payload = self._forward("POST", body)
        except OSError:
            traceback.print_exc(file=sys.stderr)
            self.close_connection = True
            self._send(502, [("Content-Type", "text/plain")], b"DynamoDB Local is unreachable")
            return
        self._send(status, headers, payload)

    do_GET = do_POST

    def _forward(self, method: str, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        headers = {
            name: value for name, value in self.headers.items() if name.lower() not in _HOP_BY_HOP
        }
        headers["Content-Length"] = str(len(body))
        for attempt in (1, 2):
            connection = self._connection(fresh=attempt == 2)
            try:
                connection.request(method, self.path, body=body, headers=headers)
                reply = connection.getresponse()
                payload = reply.read()
            except (http.client.HTTPException, ConnectionError):
                connection.close()
                if attempt == 2:
                    raise
                continue  # a kept-alive connection DynamoDB Local closed meanwhile
            kept = [(n, v) for n, v in reply.getheaders() if n.lower() not in _HOP_BY_HOP]
            return reply.status, kept, payload
        raise AssertionError("unreachable")

    def _connection(self, *, fresh: bool) -> http.client.HTTPConnection:
        proxy: IamProxy = self.owner
        local = proxy.connections
        if fresh or getattr(local, "connection", None) is None:
            host, port = proxy.upstream
            local.connection = http.client.HTTPConnection(host, port, timeout=60)
        connection: http.client.HTTPConnection = local.connection
        return connection

    def _send(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.send_response_only(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
