"""A peer's tool on our API: schemathesis reads docs/openapi.json and throws generated
requests (valid and invalid) at every route of the local stack, with keys of each scope.

It passes only if no reply is a 5xx and every reply is documented: its status code, its
content type and its body's schema (schemathesis' not_a_server_error,
status_code_conformance, content_type_conformance and response_schema_conformance).
The number of examples per operation is bounded so `make test` stays quick; the number of
requests made is printed at the end of the run."""

from __future__ import annotations

import json
import os
import zlib
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from cashback.api.payloads import EXAMPLE_TIME
from cashback.domain.tenants import TenantSettings
from cashback.services import keys
from cashback_tools.local.iam import wildcard_match
from cashback_tools.local.stack import LocalStack
from tests.conftest import SCHEMATHESIS_CASES

from .client import now_iso, unique

ROOT = Path(__file__).resolve().parents[2]
# Per operation and phase (see the README for the total this makes); a deeper run:
# CASHBACK_SCHEMATHESIS_EXAMPLES=200 python -m pytest tests/integration/test_schemathesis.py
MAX_EXAMPLES = int(os.environ.get("CASHBACK_SCHEMATHESIS_EXAMPLES") or 12)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

schema = schemathesis.openapi.from_path(
    ROOT / "docs" / "openapi.json",
    config=SchemathesisConfig.from_dict(
        {
            "seed": 8,  # the same requests on every run: a failure here is reproducible
            "generation": {"max-examples": MAX_EXAMPLES, "mode": "all", "database": "none"},
            "phases": {
                "examples": {"enabled": True},
                "coverage": {
                    # Methods a route lacks, as API Gateway knows them (the local runner's HTTP
                    # server answers methods it has never heard of, e.g. QUERY, with its own 501).
                    "enabled": True,
                    "unexpected-methods": ["DELETE", "PATCH", "OPTIONS"],
                },
                "fuzzing": {"enabled": True},
                "stateful": {"enabled": False},
            },
            # The coverage phase's boundary cases of a whole program (the RuleSet schema) are
            # ~800 requests; fuzzing alone covers it within the budget.
            "operations": [
                {
                    "include-path": "/v1/rules",
                    "include-method": "PUT",
                    "phases": {"coverage": {"enabled": False}},
                }
            ],
        }
    ),
)


def _scope_of(method: str, path: str) -> str:
    """The scope whose key may call this route (keys.ROUTES is what the authorizer allows);
    for a method the route lacks (the coverage phase tries some), any key."""
    concrete = path.replace("{", "").replace("}", "")
    for scope, routes in keys.ROUTES.items():
        for allowed_method, pattern in routes:
            if allowed_method == method.upper() and wildcard_match(pattern, concrete):
                return scope
    return "storefront"


@pytest.fixture(scope="module")
def fuzz_keys(stack: LocalStack) -> dict[str, str]:
    """A storefront of its own (screening in shadow mode, as every API test storefront)."""
    tenant = unique("fuzz")
    return stack.add_tenant(tenant, TenantSettings(currency="BRL", risk_mode="shadow"), now_iso())


def _scopes_for(case: Any) -> list[str]:
    """Every request goes with the key the route is for, then with one other: a key of
    another scope (403 unless that scope may call the route too) or none (401). Which one
    is chosen from the request itself, so Hypothesis replays a case with the same keys."""
    own = _scope_of(case.method, case.operation.path)
    others = [scope for scope in ("storefront", "review", "admin", "none") if scope != own]
    drawn = json.dumps([case.path_parameters, case.query, case.body], sort_keys=True, default=repr)
    return [own, others[zlib.crc32(drawn.encode()) % len(others)]]


@schema.parametrize()
@settings(suppress_health_check=list(HealthCheck))
def test_every_reply_is_documented_and_none_is_a_5xx(
    case: Any, stack: LocalStack, fuzz_keys: dict[str, str], request: pytest.FixtureRequest
) -> None:
    if isinstance(case.body, dict) and case.body.get("occurred_at") == EXAMPLE_TIME:
        case.body["occurred_at"] = now_iso()  # the documented example, made current
    for scope in _scopes_for(case):
        headers = {"Authorization": f"Bearer {fuzz_keys[scope]}"} if scope != "none" else {}
        response = case.call(base_url=stack.url, headers=headers, timeout=30)
        stash = request.config.stash
        stash[SCHEMATHESIS_CASES] = stash.get(SCHEMATHESIS_CASES, 0) + 1
        case.validate_response(response, checks=CHECKS)
