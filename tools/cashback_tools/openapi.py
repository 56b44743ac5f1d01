"""One OpenAPI document for the whole HTTP API, generated from the handlers' resolvers.

Each API function's Powertools resolver describes its own routes from the code (the
pydantic request and reply models); this merges them and adds the Bearer key scheme.
`python -m cashback_tools.openapi` writes docs/openapi.json; a test keeps it current."""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

from cashback_tools.local.stack import find_template
from cashback_tools.local.template import load_template

TITLE = "Cashback platform API"
VERSION = "1"


def _resolver(module_file: Path) -> Any:
    spec = importlib.util.spec_from_file_location(f"openapi_{module_file.parent.name}", module_file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, "app", None)


def document(template_path: Path | None = None) -> dict[str, Any]:
    template = load_template(template_path or find_template())
    functions = template.functions()
    merged: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": TITLE,
            "version": VERSION,
            "description": "Amounts are integers in minor units of the storefront's "
            "currency. Errors: {code, message, details}.",
        },
        "paths": {},
        "components": {
            "schemas": {},
            "securitySchemes": {
                "apiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "Authorization: Bearer <key>; scopes storefront, review, admin",
                }
            },
        },
        "security": [{"apiKey": []}],
    }
    for name in sorted({route.function for route in template.api_routes()}):
        app = _resolver(functions[name].module_file)
        part = json.loads(app.get_openapi_json_schema(title=TITLE, version=VERSION))
        merged["paths"].update(part.get("paths", {}))
        merged["components"]["schemas"].update(part.get("components", {}).get("schemas", {}))
    return merged


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="exit 1 if docs/openapi.json is not what the code generates",
    )
    args = parser.parse_args(argv)
    text = json.dumps(document(), indent=2, sort_keys=True) + "\n"
    target = find_template().parent / "docs" / "openapi.json"
    if args.check:
        current = target.read_text() if target.exists() else ""
        if current != text:
            print(
                "docs/openapi.json is stale: run python -m cashback_tools.openapi", file=sys.stderr
            )
            return 1
        return 0
    target.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
