"""The console's files over real HTTP, through the local gateway as API Gateway serves
them: no key needed, the folder's slash, the greedy {path+}, and nothing outside it."""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit

import requests

from cashback_tools.local.stack import LocalStack


def _raw_get(stack: LocalStack, path: str) -> http.client.HTTPResponse:
    """A GET with the path exactly as written (requests would normalise dot segments)."""
    parts = urlsplit(stack.url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    connection.request("GET", path)
    return connection.getresponse()


def test_the_console_needs_no_key_and_redirects_to_its_folder(stack: LocalStack) -> None:
    reply = requests.get(f"{stack.url}/console", allow_redirects=False, timeout=30)
    assert (reply.status_code, reply.headers["Location"]) == (301, "console/")
    page = requests.get(f"{stack.url}/console", timeout=30)  # follows to /console/
    assert page.status_code == 200
    assert page.url == f"{stack.url}/console/"
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert page.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert page.headers["Cache-Control"] == "no-cache"


def test_files_under_the_folder_come_through_the_greedy_path(stack: LocalStack) -> None:
    script = requests.get(f"{stack.url}/console/js/main.js", timeout=30)
    assert script.status_code == 200
    assert script.headers["Content-Type"] == "text/javascript; charset=utf-8"
    style = requests.get(f"{stack.url}/console/console.css", timeout=30)
    assert style.headers["Content-Type"] == "text/css; charset=utf-8"


def test_unknown_files_and_escapes_are_404(stack: LocalStack) -> None:
    for path in (
        "/console/missing.js",
        "/console/../console/app.py",
        "/console/js/%2e%2e/%2e%2e/app.py",
        "/console/..%2fapp.py",
    ):
        reply = _raw_get(stack, path)
        assert reply.status == 404, path
        assert b"file_not_found" in reply.read(), path


def test_the_api_still_wants_its_key_beside_the_console(stack: LocalStack) -> None:
    reply = requests.get(f"{stack.url}/v1/reviews", timeout=30)
    assert reply.status_code == 401
