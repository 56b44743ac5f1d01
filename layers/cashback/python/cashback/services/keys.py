"""API keys: random, shown once, stored only as a SHA-256 hash with tenant and scopes."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Literal, get_args

from cashback.domain.errors import NotFound
from cashback.services.ports import KeyStore

Scope = Literal["storefront", "review", "admin"]
SCOPES: tuple[str, ...] = get_args(Scope)
KEY_PREFIX = "cbk_"
TENANT_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")

# The routes each scope may call: the authorizer turns these into the IAM policy that
# API Gateway enforces (a key without the scope gets 403 before any handler runs). Only
# routes the template serves (tests/unit/test_key_routes.py checks both ways).
ROUTES: dict[str, tuple[tuple[str, str], ...]] = {
    "storefront": (
        ("POST", "/v1/purchases"),
        ("POST", "/v1/refunds"),
        ("GET", "/v1/customers/*/balance"),
        ("GET", "/v1/customers/*/entries"),
        ("POST", "/v1/redemptions"),
        ("GET", "/v1/redemptions/*"),
        ("POST", "/v1/redemptions/*/capture"),
        ("POST", "/v1/redemptions/*/cancel"),
        ("POST", "/v1/redemptions/*/reversals"),
        ("POST", "/v1/payouts"),
        ("GET", "/v1/payouts/*"),
        ("POST", "/v1/payouts/*/cancel"),
    ),
    "review": (
        ("GET", "/v1/reviews"),
        ("GET", "/v1/reviews/*"),
        ("POST", "/v1/reviews/*/decision"),
        ("POST", "/v1/reviews/*/claim"),
        ("POST", "/v1/reviews/*/notes"),
        ("GET", "/v1/review-stats"),
        ("GET", "/v1/customers/*/balance"),
        ("GET", "/v1/customers/*/entries"),
        ("GET", "/v1/risk/settings"),
        ("PUT", "/v1/risk/settings"),
        ("POST", "/v1/risk/backtest"),
        ("GET", "/v1/lists"),
        ("GET", "/v1/lists/audit"),
        ("PUT", "/v1/lists/*/*"),
        ("DELETE", "/v1/lists/*/*"),
    ),
    "admin": (
        ("GET", "/v1/reports/liability"),
        ("GET", "/v1/reports/program"),
        ("PUT", "/v1/rules"),
        ("GET", "/v1/rules"),
        ("GET", "/v1/rules/*"),
        ("GET", "/v1/risk/settings"),
        ("PUT", "/v1/risk/settings"),
        ("POST", "/v1/risk/backtest"),
        ("GET", "/v1/lists"),
        ("GET", "/v1/lists/audit"),
        ("PUT", "/v1/lists/*/*"),
        ("DELETE", "/v1/lists/*/*"),
    ),
}


@dataclass(frozen=True)
class Principal:
    tenant: str
    scopes: tuple[str, ...]
    key_id: str
    # The tenant's API Gateway API key value: the authorizer returns it as the
    # usageIdentifierKey, so the tenant's usage plan throttles the request.
    usage_key: str | None = None


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(store: KeyStore, tenant: str, scopes: list[str], created_at: str) -> str:
    """Make a key for an existing tenant and return it; only its hash is stored."""
    unknown = set(scopes) - set(SCOPES)
    if not scopes or unknown:
        raise ValueError(f"scopes must be some of {', '.join(SCOPES)}")
    if store.get_tenant(tenant) is None:
        raise NotFound(f"no tenant {tenant}", code="tenant_not_found")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    # Copied onto the key, so the authorizer learns it from the one item it reads.
    usage_key = store.tenant_usage_key(tenant)
    store.put_api_key(
        key_hash(key),
        {
            "tenant": tenant,
            "scopes": sorted(set(scopes)),
            "key_id": key[:12],
            "created_at": created_at,
            "usage_key": usage_key,
        },
    )
    return key


def new_usage_key() -> str:
    """A value for a tenant's API Gateway API key (its usage plan key), shaped like the
    ones API Gateway generates. Clients never send it: the authorizer returns it."""
    return secrets.token_urlsafe(30)


def authenticate(store: KeyStore, authorization: str) -> Principal | None:
    """The principal behind an `Authorization: Bearer <key>` header, or None."""
    scheme, _, key = authorization.partition(" ")
    if scheme != "Bearer" or not key.startswith(KEY_PREFIX):
        return None
    record = store.get_api_key(key_hash(key))
    if record is None or record.get("revoked_at"):
        return None
    return Principal(
        record["tenant"], tuple(record["scopes"]), record["key_id"], record.get("usage_key")
    )


def allowed_routes(scopes: tuple[str, ...]) -> list[tuple[str, str]]:
    return sorted({route for scope in scopes for route in ROUTES.get(scope, ())})
