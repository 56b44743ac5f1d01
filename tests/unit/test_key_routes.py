"""The routes a key's scopes allow are exactly the routes template.yaml serves: the
authorizer's policy never grants a route that does not exist, and every route is some
scope's."""

import re
from pathlib import Path

from cashback.services import keys
from cashback_tools.local.template import load_template

ROOT = Path(__file__).resolve().parents[2]


def _template_routes() -> set[tuple[str, str]]:
    template = load_template(ROOT / "template.yaml")
    # The policy names path parameters as "*" (execute-api ARNs take wildcards there). Only
    # routes behind the key authorizer: a provider's callbacks carry a signature, not a key.
    return {
        (route.method, re.sub(r"\{[^}]+\}", "*", route.path))
        for route in template.api_routes()
        if route.authorized
    }


def test_every_allowed_route_is_served_by_the_template() -> None:
    allowed = {route for routes in keys.ROUTES.values() for route in routes}
    assert allowed - _template_routes() == set()


def test_every_served_route_is_allowed_to_some_scope() -> None:
    allowed = {route for routes in keys.ROUTES.values() for route in routes}
    assert _template_routes() - allowed == set()


def test_scopes_are_the_keys_scopes() -> None:
    assert set(keys.ROUTES) == set(keys.SCOPES)
