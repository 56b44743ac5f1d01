"""The OpenAPI document is generated from the handlers' code and kept in docs/."""

import json
from pathlib import Path

from openapi_spec_validator import validate

from cashback_tools import openapi
from cashback_tools.local.template import load_template

ROOT = Path(__file__).resolve().parents[2]


def test_docs_openapi_is_what_the_code_generates() -> None:
    generated = openapi.document()
    committed = json.loads((ROOT / "docs" / "openapi.json").read_text())
    assert committed == generated, "run: python -m cashback_tools.openapi"


def test_it_describes_every_route_of_the_template_and_is_valid_openapi() -> None:
    document = openapi.document()
    validate(document)
    # The console's static files (GET /console, /console/{path+}) are a web page, not API.
    routes = {
        (r.method.lower(), r.path)
        for r in load_template(ROOT / "template.yaml").api_routes()
        if r.function != "ConsoleFunction"
    }
    described = {(method, path) for path, item in document["paths"].items() for method in item}
    assert described == routes
    purchase = document["components"]["schemas"]["PurchaseRequest"]
    assert purchase["additionalProperties"] is False  # no balance or status a client sets
