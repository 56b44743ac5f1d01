"""The analysts' console: its static files, served on the API's own origin.

Same origin as the API, so the browser needs no CORS and the review key never crosses
origins. Only the files packaged in static/ at deploy time can be served: a request names
one of them or gets a 404, so no path can reach outside the folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from cashback.api.http import error_response, make_resolver
from cashback.observability import logger, tracer

STATIC = Path(__file__).resolve().parent / "static"
# The page loads only its own files and talks only to its own origin: no inline script or
# style, no frames, no form posts elsewhere.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
# The page is re-read on each visit (a deploy shows at once); its modules are small.
CACHE_CONTROL = "no-cache"
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}


def _packaged(root: Path) -> dict[str, tuple[str, str]]:
    """Every file under root by its path relative to root ('js/main.js'): its content type
    and text, read once per container."""
    return {
        path.relative_to(root).as_posix(): (TYPES[path.suffix], path.read_text("utf-8"))
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.suffix in TYPES
    }


FILES = _packaged(STATIC)
# The API's resolver: an unexpected error is answered 500 and counted (InternalErrors).
app = make_resolver()


def _headers(content_type: str) -> dict[str, str]:
    return {**SECURITY_HEADERS, "Content-Type": content_type, "Cache-Control": CACHE_CONTROL}


def _file(name: str) -> Response[str]:
    found = FILES.get(name)
    if found is None:
        missing = error_response(404, "file_not_found", "no such console file")
        missing.headers.update(SECURITY_HEADERS)
        return missing
    content_type, text = found
    return Response(200, headers=_headers(content_type), body=text)


@app.get("/console", include_in_schema=False)
def console_page() -> Response[str]:
    # API Gateway sends /console and /console/ here; relative links need the slash.
    if not app.current_event.path.endswith("/"):
        headers = {"Location": "console/", "Cache-Control": CACHE_CONTROL}
        return Response(301, headers=headers, body="")
    return _file("index.html")


@app.get("/console/.+", include_in_schema=False)
def console_file() -> Response[str]:
    name = (app.current_event.path_parameters or {}).get("path", "")
    return _file(name)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
