"""The console's function serves exactly the files packaged with it, with the headers a
browser needs (content type, Content-Security-Policy, caching), and nothing else."""

from __future__ import annotations

import copy
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events" / "console"


class _Context:
    function_name = "ConsoleFunction"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:ConsoleFunction"
    memory_limit_in_mb = "256"
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    log_group_name = "/aws/lambda/ConsoleFunction"
    log_stream_name = "2026/03/14/[$LATEST]0123456789abcdef"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


@pytest.fixture(scope="module")
def console() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "test_console_app", ROOT / "functions" / "console" / "app.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["test_console_app"] = module
    spec.loader.exec_module(module)
    return module


def _get(console: ModuleType, path: str) -> dict[str, Any]:
    """GET path as API Gateway hands it over: /console, or /console/{path+}."""
    name = "page.json" if path.rstrip("/") == "/console" else "file.json"
    event = copy.deepcopy(json.loads((EVENTS / name).read_text()))
    event["path"] = path
    event["requestContext"]["path"] = f"/live{path}"
    if name == "file.json":
        event["pathParameters"] = {"path": path.removeprefix("/console/")}
    reply: dict[str, Any] = console.lambda_handler(event, _Context())
    return reply


def _headers(reply: dict[str, Any]) -> dict[str, str]:
    merged = dict(reply.get("headers") or {})
    for name, values in (reply.get("multiValueHeaders") or {}).items():
        merged[name] = ",".join(values)
    return merged


def test_the_page_is_served_at_the_folder_with_a_strict_policy(console: ModuleType) -> None:
    reply = _get(console, "/console/")
    headers = _headers(reply)
    assert reply["statusCode"] == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert headers["Cache-Control"] == "no-cache"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert '<script type="module" src="js/main.js">' in reply["body"]
    assert "<script>" not in reply["body"]  # nothing inline: the policy would refuse it


def test_the_folder_without_its_slash_redirects_relatively(console: ModuleType) -> None:
    reply = _get(console, "/console")
    # Relative, so it works under a stage prefix (/Prod/console -> /Prod/console/).
    assert reply["statusCode"] == 301
    assert _headers(reply)["Location"] == "console/"


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/console/js/main.js", "text/javascript; charset=utf-8"),
        ("/console/console.css", "text/css; charset=utf-8"),
        ("/console/favicon.svg", "image/svg+xml"),
    ],
)
def test_each_file_has_its_content_type(console: ModuleType, path: str, content_type: str) -> None:
    reply = _get(console, path)
    assert reply["statusCode"] == 200
    assert _headers(reply)["Content-Type"] == content_type
    on_disk = ROOT / "functions" / "console" / "static" / path.removeprefix("/console/")
    assert reply["body"] == on_disk.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "path",
    [
        "/console/nope.js",
        "/console/js/",
        "/console/../app.py",
        "/console/js/../../app.py",
        "/console/%2e%2e/app.py",
        "/console//etc/passwd",
        "/console/static/index.html",
        "/console/app.py",
    ],
)
def test_unknown_files_and_paths_outside_the_folder_are_404(console: ModuleType, path: str) -> None:
    reply = _get(console, path)
    assert reply["statusCode"] == 404
    assert json.loads(reply["body"])["code"] == "file_not_found"
    assert "default-src 'self'" in _headers(reply)["Content-Security-Policy"]


def test_only_the_static_folders_files_are_known(console: ModuleType) -> None:
    static = ROOT / "functions" / "console" / "static"
    on_disk = {p.relative_to(static).as_posix() for p in static.rglob("*") if p.is_file()}
    assert set(console.FILES) == on_disk
    assert {"index.html", "js/main.js", "js/api.js", "console.css"} <= set(console.FILES)


def test_no_file_loads_anything_from_another_origin() -> None:
    static = ROOT / "functions" / "console" / "static"
    for path in (p for p in static.rglob("*") if p.is_file()):
        text = path.read_text(encoding="utf-8").replace("http://www.w3.org/2000/svg", "")
        assert "http://" not in text and "https://" not in text, path
        assert ".innerHTML" not in text, path
