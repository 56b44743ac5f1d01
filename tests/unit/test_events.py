"""The sample events in events/ run through their real handlers and say what they claim.

Each handler (functions/<job>/app.py) is imported from its file, after the environment it
reads at import time is set, against moto's DynamoDB with the table built from
template.yaml. No network: moto's mock_aws intercepts botocore in process.
"""

from __future__ import annotations

import copy
import fnmatch
import importlib.util
import json
import os
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

# Imported at collection, before tests/unit/conftest.py disables sockets: Powertools'
# Tracer (cashback.observability) always imports the X-Ray SDK, whose global recorder
# creates a UDP socket object at import time even with tracing disabled. That socket is
# never bound, connected or written to; but created inside a test, pytest-socket refuses it.
import aws_xray_sdk.core  # noqa: F401
import boto3
import pytest
from moto import mock_aws

import cashback.config
from cashback import runtime
from cashback.adapters.dynamodb.store import Store
from cashback.domain.tenants import TenantSettings
from cashback.services import keys
from cashback_tools.local.template import load_template

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
TEMPLATE = ROOT / "template.yaml"
TABLE = "cashback-test-events"
REGION = "us-east-1"
TENANT = "acme"
USAGE_KEY = "tenant-usage-plan-key-0123456789abcdefghij"

EVENT_FILES = {
    ("POST", "/v1/purchases"): "accrual/purchase.json",
    ("POST", "/v1/refunds"): "accrual/refund.json",
    ("GET", "/v1/customers/{customer_id}/balance"): "redemption/balance.json",
    ("GET", "/v1/customers/{customer_id}/entries"): "redemption/entries.json",
    ("POST", "/v1/redemptions"): "redemption/redeem.json",
    ("GET", "/v1/redemptions/{redemption_id}"): "redemption/redemption.json",
    ("POST", "/v1/redemptions/{redemption_id}/capture"): "redemption/capture.json",
    ("POST", "/v1/redemptions/{redemption_id}/cancel"): "redemption/cancel.json",
    ("POST", "/v1/redemptions/{redemption_id}/reversals"): "redemption/reversal.json",
    ("POST", "/v1/payouts"): "payout/request.json",
    ("GET", "/v1/payouts/{payout_id}"): "payout/payout.json",
    ("POST", "/v1/payouts/{payout_id}/cancel"): "payout/cancel.json",
    ("POST", "/v1/providers/{name}/events"): "payout/provider_event.json",
    ("PUT", "/v1/rules"): "admin/publish_rules.json",
    ("GET", "/v1/rules"): "admin/rules_in_force.json",
    ("GET", "/v1/reports/liability"): "reports/liability.json",
    ("GET", "/v1/reports/program"): "reports/program.json",
    ("GET", "/v1/rules/{version}"): "admin/rules_version.json",
    ("GET", "/v1/reviews"): "review/queue.json",
    ("GET", "/v1/reviews/{order_id}"): "review/case.json",
    ("POST", "/v1/reviews/{order_id}/decision"): "review/decision.json",
    ("POST", "/v1/reviews/{order_id}/claim"): "review/claim.json",
    ("POST", "/v1/reviews/{order_id}/notes"): "review/note.json",
    ("GET", "/v1/review-stats"): "review/stats.json",
    ("GET", "/v1/risk/settings"): "review/risk_settings.json",
    ("PUT", "/v1/risk/settings"): "review/put_risk_settings.json",
    ("POST", "/v1/risk/backtest"): "review/risk_backtest.json",
    ("GET", "/v1/lists"): "review/lists.json",
    ("GET", "/v1/lists/audit"): "review/list_audit.json",
    ("PUT", "/v1/lists/{kind}/{value}"): "review/list_put.json",
    ("DELETE", "/v1/lists/{kind}/{value}"): "review/list_delete.json",
    ("GET", "/console"): "console/page.json",
    ("GET", "/console/{path+}"): "console/file.json",
}
AUTHORIZER_EVENT = "authorizer/token.json"
SCHEDULE_EVENTS = {
    ("ExpiryFunction", "Hourly"): "expiry/scheduled.json",
    ("RedemptionFunction", "ReleaseHolds"): "redemption/release_holds.json",
    ("PayoutFunction", "SubmitPayouts"): "payout/submit_payouts.json",
}
STREAM_EVENTS = {("ReportsFunction", "LedgerStream"): "reports/stream.json"}
# Routes without the key authorizer: their events carry no authorizer context.
UNAUTHORIZED = {
    ("POST", "/v1/providers/{name}/events"),
    ("GET", "/console"),
    ("GET", "/console/{path+}"),
}
EVENT_BUS = "cashback-test-events"

# What the sample purchase (25990 BRL cents, 2026-03-14T12:02:11-03:00) and its refund of
# the 6000 line must produce at the default 5% rate, 30-day window and 180-day expiry.
CASHBACK = 1299  # 5% of 25990 is 1299.5, rounded down
CLAWED_BACK = 300  # keeps floor(1299 * 19990 / 25990) = 999
AVAILABLE_AT = "2026-04-13T15:02:11Z"  # occurred_at (15:02:11Z) + 30 days
EXPIRES_AT = "2026-09-10T15:02:11Z"  # occurred_at + 180 days


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def _epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def api_event(name: str, *, after: datetime | None = None) -> dict[str, Any]:
    """A sample API event whose request time is a few seconds after its body's occurred_at
    (or after `after`, for requests without a body): the handlers take "now" from it."""
    event = load_event(name)
    if after is None:
        after = datetime.fromisoformat(json.loads(event["body"])["occurred_at"])
    event["requestContext"]["requestTimeEpoch"] = _epoch_ms(after + timedelta(seconds=3))
    return event


def _body(name: str) -> dict[str, Any]:
    return json.loads(load_event(name)["body"])  # type: ignore[no-any-return]


PURCHASE = _body("accrual/purchase.json")
REFUND = _body("accrual/refund.json")
AFTER_REFUND = datetime.fromisoformat(REFUND["occurred_at"]) + timedelta(minutes=5)


class FakeLambdaContext:
    """The attributes the Python Lambda runtime's context carries (Powertools reads them)."""

    def __init__(self, function_name: str) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:123456789012:function:{function_name}"
        self.memory_limit_in_mb = "512"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "2026/03/14/[$LATEST]0123456789abcdef"

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


def _clear_runtime_caches() -> None:
    runtime.store.cache_clear()
    cashback.config.settings.cache_clear()
    runtime.tenant_cache.cache_clear()
    runtime.publisher.cache_clear()


@pytest.fixture
def table(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Store]:
    """moto's DynamoDB with template.yaml's LedgerTable and the tenant `acme`, and the
    environment the handlers read (set before any handler module is imported)."""
    template = load_template(TEMPLATE)
    for name, value in template.environment({"LedgerTable": TABLE}).items():
        monkeypatch.setenv(name, value)
    # The integration tests' local stack may have pointed boto3 at its endpoints.
    for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL")] + [
        "AWS_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_FUNCTION_NAME",
    ]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("TABLE_NAME", TABLE)
    monkeypatch.setenv("EVENT_BUS_NAME", EVENT_BUS)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "WARNING")
    _clear_runtime_caches()
    try:
        with mock_aws():
            client = boto3.client("dynamodb", region_name=REGION)
            client.create_table(**template.table_create_params(table_name=TABLE))
            boto3.client("events", region_name=REGION).create_event_bus(Name=EVENT_BUS)
            store = Store(TABLE, client)
            settings = TenantSettings(currency="BRL", backdate_days=3650)
            assert store.put_tenant(TENANT, settings, "2026-01-01T00:00:00Z", usage_key=USAGE_KEY)
            yield store
    finally:
        _clear_runtime_caches()


def _import_handler(job: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    name = f"test_events_{job}_app_{uuid.uuid4().hex[:8]}"
    spec = importlib.util.spec_from_file_location(name, ROOT / "functions" / job / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, module)
    spec.loader.exec_module(module)
    return module


@dataclass
class Functions:
    accrual: ModuleType
    redemption: ModuleType
    authorizer: ModuleType
    expiry: ModuleType
    admin: ModuleType
    review: ModuleType
    reports: ModuleType

    def call(self, job: str, event: dict[str, Any]) -> Any:
        function = f"{job.capitalize()}Function"
        return getattr(self, job).lambda_handler(copy.deepcopy(event), FakeLambdaContext(function))


@pytest.fixture
def functions(table: Store, monkeypatch: pytest.MonkeyPatch) -> Functions:
    return Functions(
        *(
            _import_handler(job, monkeypatch)
            for job in (
                "accrual",
                "redemption",
                "authorizer",
                "expiry",
                "admin",
                "review",
                "reports",
            )
        )
    )


def _headers(reply: dict[str, Any]) -> dict[str, str]:
    """A proxy reply's headers as API Gateway merges them (multiValueHeaders win)."""
    merged = dict(reply.get("headers") or {})
    for name, values in (reply.get("multiValueHeaders") or {}).items():
        merged[name] = ",".join(values)
    return merged


def _json(reply: dict[str, Any]) -> Any:
    assert _headers(reply).get("Content-Type") == "application/json", reply
    return json.loads(reply["body"])


def _purchase(functions: Functions) -> dict[str, Any]:
    reply = functions.call("accrual", api_event("accrual/purchase.json"))
    assert reply["statusCode"] == 201, reply
    return reply  # type: ignore[no-any-return]


def _refund(functions: Functions) -> dict[str, Any]:
    reply = functions.call("accrual", api_event("accrual/refund.json"))
    assert reply["statusCode"] == 201, reply
    return reply  # type: ignore[no-any-return]


# -- the files themselves ----------------------------------------------------------------


def test_there_is_a_sample_event_for_every_route_and_the_authorizer() -> None:
    template = load_template(TEMPLATE)
    routes = {(route.method, route.path): route.function for route in template.api_routes()}
    assert set(routes) == set(EVENT_FILES)
    for (method, path), name in EVENT_FILES.items():
        event = load_event(name)
        assert (event["httpMethod"], event["resource"]) == (method, path), name
        assert name.split("/")[0] == routes[(method, path)].removesuffix("Function").lower()
        scope = {"admin": "admin", "review": "review", "reports": "admin"}.get(
            name.split("/")[0], "storefront"
        )
        if (method, path) in UNAUTHORIZED:
            assert "authorizer" not in event["requestContext"], name
            assert "Authorization" not in event["headers"], name
            continue
        assert event["requestContext"]["authorizer"]["tenant"] == "acme"
        assert event["requestContext"]["authorizer"]["scopes"] == scope
        assert event["requestContext"]["resourcePath"] == path
        assert event["requestContext"]["path"] == f"/{template.stage_name}{event['path']}"
    authorizer = template.authorizer()
    assert authorizer is not None and authorizer.function == "AuthorizerFunction"
    token = load_event(AUTHORIZER_EVENT)
    assert set(token) == {"type", "authorizationToken", "methodArn"}
    assert token["type"] == "TOKEN"
    assert authorizer.validation_expression is not None


def test_there_is_a_sample_event_for_every_schedule() -> None:
    template = load_template(TEMPLATE)
    schedules = {
        (name, event_name)
        for name, resource in template.document["Resources"].items()
        for event_name, event in (resource.get("Properties", {}).get("Events") or {}).items()
        if event["Type"] == "ScheduleV2"
    }
    assert schedules == set(SCHEDULE_EVENTS)
    for name in SCHEDULE_EVENTS.values():
        assert datetime.fromisoformat(load_event(name)["time"]).tzinfo is not None


def test_there_is_a_sample_event_for_every_stream() -> None:
    template = load_template(TEMPLATE)
    streams = {
        (name, event_name)
        for name, resource in template.document["Resources"].items()
        for event_name, event in (resource.get("Properties", {}).get("Events") or {}).items()
        if event["Type"] == "DynamoDB"
    }
    assert streams == set(STREAM_EVENTS)


def test_stream_event_folds_the_sample_purchase_once_into_the_liability_report(
    functions: Functions,
) -> None:
    """The sample batch is what the table's stream carries after the sample purchase: its
    entry and its lot. Folded twice (Lambda retried it), it counts once."""
    for _ in range(2):
        assert functions.call("reports", load_event("reports/stream.json")) == {
            "batchItemFailures": []
        }
    found = functions.call("reports", api_event("reports/liability.json", after=ADMIN_AT))
    assert found["statusCode"] == 200, found
    report = _json(found)
    (day,) = [period for period in report["periods"] if period["start"] == "2026-03-14"]
    assert (day["opening"], day["issued"], day["closing"]) == (0, CASHBACK, CASHBACK)
    assert day["closing_by_state"] == {
        "pending": CASHBACK,
        "available": 0,
        "held": 0,
        "reserved": 0,
    }
    assert report["periods"][-1]["closing"] == CASHBACK
    program = functions.call("reports", api_event("reports/program.json", after=ADMIN_AT))
    assert program["statusCode"] == 200, program
    assert [month["month"] for month in _json(program)["months"]] == [
        "2026-01",
        "2026-02",
        "2026-03",
    ]
    (cohort,) = report["breakage"]["cohorts"]
    assert (cohort["month"], cohort["issued"], cohort["outstanding"]) == (
        "2026-03",
        CASHBACK,
        CASHBACK,
    )


def test_sample_purchase_and_refund_add_up() -> None:
    assert PURCHASE["currency"] == "BRL"
    assert sum(line["amount"] for line in PURCHASE["lines"]) == PURCHASE["amount"] == 25990
    assert REFUND["order_id"] == PURCHASE["order_id"]
    assert sum(line["amount"] for line in REFUND["lines"]) == REFUND["amount"]
    assert datetime.fromisoformat(REFUND["occurred_at"]) > datetime.fromisoformat(
        PURCHASE["occurred_at"]
    )


# -- accrual ----------------------------------------------------------------------------


def test_purchase_event_credits_five_percent_rounded_down(functions: Functions) -> None:
    reply = _purchase(functions)
    assert _json(reply) == {
        "order_id": "ord-2026-031400123",
        "customer_id": "cust-8841",
        "status": "pending",
        "currency": "BRL",
        "unit": "money",
        "cashback": CASHBACK,
        "debt_repaid": 0,
        "credited": CASHBACK,
        "available_at": AVAILABLE_AT,
        "expires_at": EXPIRES_AT,
        "rules_version": None,  # no program published: the flat rate
        "breakdown": None,
        "explanation": [],
    }


def test_replaying_the_purchase_event_returns_the_same_body(
    functions: Functions, table: Store
) -> None:
    first = _purchase(functions)
    again = _purchase(functions)
    assert again["body"] == first["body"]
    assert _headers(again).get("Idempotent-Replayed") == "true"
    assert "Idempotent-Replayed" not in _headers(first)
    # Nothing moved twice.
    account = table.get_account(TENANT, PURCHASE["customer_id"])
    assert (account.seq, account["pending"], account["earned"]) == (1, CASHBACK, CASHBACK)


def test_refund_event_claws_back_in_proportion(functions: Functions) -> None:
    _purchase(functions)
    reply = _refund(functions)
    assert _json(reply) == {
        "refund_id": "rfd-2026-032000045",
        "order_id": "ord-2026-031400123",
        "customer_id": "cust-8841",
        "amount": 6000,
        "currency": "BRL",
        "clawed_back": CLAWED_BACK,
        "from_pending": CLAWED_BACK,
        "from_available": 0,
        "from_held": 0,
        "from_balance": 0,
        "forgiven": 0,
        "debt": 0,
        "order_refunded": 6000,
        "cashback_returned": 0,  # the order was not paid with cashback
        "cashback_returns": [],
    }


# -- redemption -------------------------------------------------------------------------


def test_balance_event_shows_what_is_pending(functions: Functions) -> None:
    _purchase(functions)
    _refund(functions)
    reply = functions.call("redemption", api_event("redemption/balance.json", after=AFTER_REFUND))
    assert reply["statusCode"] == 200, reply
    assert _json(reply) == {
        "customer_id": "cust-8841",
        "currency": "BRL",
        "pending": CASHBACK - CLAWED_BACK,
        "available": 0,
        "held": 0,
        "reserved": 0,
        "debt": 0,
        "spent": 0,
        "paid_out": 0,
        "next_expiry": {"at": EXPIRES_AT, "amount": CASHBACK - CLAWED_BACK},
        "next_deadlines": [{"at": EXPIRES_AT, "amount": CASHBACK - CLAWED_BACK}],
        "monthly_cap": None,  # no program published
        "monthly_cap_left": None,
        "milestones": [],  # no program: no milestones
        "next_milestones": [],
    }


def test_entries_event_lists_the_ledger_newest_first(functions: Functions) -> None:
    _purchase(functions)
    _refund(functions)
    reply = functions.call("redemption", api_event("redemption/entries.json", after=AFTER_REFUND))
    assert reply["statusCode"] == 200, reply
    page = _json(reply)
    assert page["customer_id"] == "cust-8841"
    assert page["currency"] == "BRL"
    assert page["next_cursor"] is None
    items = page["items"]
    assert [(e["seq"], e["kind"], e["ref"]) for e in items] == [
        (2, "refund", "rfd-2026-032000045"),
        (1, "purchase", "ord-2026-031400123"),
    ]
    assert [e["occurred_at"] for e in items] == ["2026-03-20T13:15:00Z", "2026-03-14T15:02:11Z"]
    assert items[0]["changes"] == {"pending": -CLAWED_BACK, "clawed_back": CLAWED_BACK}
    assert items[1]["changes"] == {"earned": CASHBACK, "pending": CASHBACK}
    assert items[0]["prev_hash"] == items[1]["hash"]
    assert all(e["order_id"] == "ord-2026-031400123" for e in items)


def test_entries_of_a_customer_without_history_are_empty(functions: Functions) -> None:
    reply = functions.call("redemption", api_event("redemption/entries.json", after=AFTER_REFUND))
    assert reply["statusCode"] == 200, reply
    assert _json(reply)["items"] == []


# -- authorizer -------------------------------------------------------------------------


def _allowed(policy: dict[str, Any], method_arn: str) -> bool:
    """IAM's answer for execute-api:Invoke on method_arn (wildcards match any run)."""
    effect = None
    for statement in policy["Statement"]:
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        resources = (
            statement["Resource"]
            if isinstance(statement["Resource"], list)
            else [statement["Resource"]]
        )
        if "execute-api:Invoke" not in actions:
            continue
        if not any(fnmatch.fnmatchcase(method_arn, resource) for resource in resources):
            continue
        if statement["Effect"] == "Deny":
            return False
        effect = statement["Effect"]
    return effect == "Allow"


def test_authorizer_event_allows_the_route_for_a_storefront_key(
    functions: Functions, table: Store
) -> None:
    key = keys.create_key(table, TENANT, ["storefront"], "2026-03-01T00:00:00Z")
    event = load_event(AUTHORIZER_EVENT)
    event["authorizationToken"] = f"Bearer {key}"
    calls: list[str] = []
    runtime.store().client.meta.events.register(
        "before-call.dynamodb.*", lambda model, **_: calls.append(model.name)
    )
    answer = functions.call("authorizer", event)
    assert calls == ["GetItem"]  # the authorizer reads the key's one item, nothing else
    assert answer["principalId"] == key[:12]
    assert answer["context"]["tenant"] == "acme"
    assert answer["context"]["scopes"] == "storefront"
    # The tenant's usage plan key, read from the key's own item: the tenant's own throttle.
    assert answer["usageIdentifierKey"] == USAGE_KEY
    assert _allowed(answer["policyDocument"], event["methodArn"])
    # The policy is cached per key, so it must cover the key's other routes too, and only
    # those of its scope.
    prefix = event["methodArn"].rsplit("/POST/", 1)[0]
    assert _allowed(answer["policyDocument"], f"{prefix}/GET/v1/customers/cust-8841/balance")
    assert not _allowed(answer["policyDocument"], f"{prefix}/PUT/v1/rules")


def test_authorizer_rejects_an_unknown_key(functions: Functions) -> None:
    event = load_event(AUTHORIZER_EVENT)
    with pytest.raises(Exception, match="^Unauthorized$"):
        functions.call("authorizer", event)


# -- expiry -----------------------------------------------------------------------------


def test_scheduled_event_ripens_then_expires_the_sample_purchase(
    functions: Functions, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The sample's time is history; a deployed job refuses it (>14 days behind its clock).
    monkeypatch.setenv("CASHBACK_TIME_TRAVEL", "true")
    _purchase(functions)
    _refund(functions)
    report = functions.call("expiry", load_event("expiry/scheduled.json"))
    assert (report["lots_ripened"], report["cashback_ripened"]) == (1, CASHBACK - CLAWED_BACK)
    assert (report["lots_expired"], report["cashback_expired"]) == (1, CASHBACK - CLAWED_BACK)
    assert report["failures"] == 0 and report["notices_published"] == 2
    again = functions.call("expiry", load_event("expiry/scheduled.json"))
    assert again["lots_ripened"] == again["lots_expired"] == 0


# -- admin ------------------------------------------------------------------------------

ADMIN_AT = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)


def test_publish_event_publishes_version_one_ahead_of_its_start(functions: Functions) -> None:
    reply = functions.call("admin", api_event("admin/publish_rules.json", after=ADMIN_AT))
    assert reply["statusCode"] == 201, reply
    published = _json(reply)
    assert published["version"] == 1
    assert published["effective_from"] == "2026-11-01T03:00:00Z"
    assert published["published_by"] == "cbk_admin01"
    in_force = _json(
        functions.call("admin", api_event("admin/rules_in_force.json", after=ADMIN_AT))
    )
    assert in_force["in_force"] is None  # the event's moment is before effective_from
    assert [v["version"] for v in in_force["versions"]] == [1]
    version = _json(functions.call("admin", api_event("admin/rules_version.json", after=ADMIN_AT)))
    assert version["rules"]["base_rate"] == "0.03"


def test_rules_version_event_for_an_unknown_version_is_404(functions: Functions) -> None:
    reply = functions.call("admin", api_event("admin/rules_version.json", after=ADMIN_AT))
    assert reply["statusCode"] == 404
    assert _json(reply)["code"] == "rules_version_not_found"


# -- review -----------------------------------------------------------------------------


def test_review_events_find_no_case_for_a_purchase_that_was_allowed(functions: Functions) -> None:
    _purchase(functions)  # the sample purchase is ordinary: allowed, nothing to review
    queue = functions.call("review", api_event("review/queue.json", after=ADMIN_AT))
    assert (queue["statusCode"], _json(queue)["items"]) == (200, [])
    case = functions.call("review", api_event("review/case.json", after=ADMIN_AT))
    assert case["statusCode"] == 200 and _json(case)["case_status"] is None
    decision = functions.call("review", api_event("review/decision.json", after=ADMIN_AT))
    assert (decision["statusCode"], _json(decision)["code"]) == (409, "case_closed")
    claim = functions.call("review", api_event("review/claim.json", after=ADMIN_AT))
    assert (claim["statusCode"], _json(claim)["code"]) == (409, "case_closed")
    note = functions.call("review", api_event("review/note.json", after=ADMIN_AT))
    assert note["statusCode"] == 201
    assert _json(note)["text"] == "customer called: gifts for the family"
    stats = functions.call("review", api_event("review/stats.json", after=ADMIN_AT))
    assert (stats["statusCode"], _json(stats)["open"], _json(stats)["decided"]) == (200, 0, 0)


def test_risk_settings_events_read_store_and_backtest(functions: Functions) -> None:
    _purchase(functions)  # one scored purchase: too few for the storefront's own thresholds
    found = functions.call("review", api_event("review/risk_settings.json", after=ADMIN_AT))
    assert found["statusCode"] == 200, found
    settings = _json(found)
    assert (settings["mode"], settings["review_share"]) == ("enforce", "0.02")
    assert settings["thresholds"]["from"] == "model" and settings["thresholds"]["purchases"] == 1
    put = functions.call("review", api_event("review/put_risk_settings.json", after=ADMIN_AT))
    assert put["statusCode"] == 200, put
    assert _json(put)["backtest"] is None  # enforcing already: no switch, no backtest
    tested = functions.call("review", api_event("review/risk_backtest.json", after=ADMIN_AT))
    assert tested["statusCode"] == 200, tested
    backtest = _json(tested)
    assert backtest["purchases"] == 1 and backtest["allowed"] == {"count": 1, "cashback": 1299}


def test_list_events_put_list_audit_and_remove_an_entry(functions: Functions) -> None:
    put = functions.call("review", api_event("review/list_put.json", after=ADMIN_AT))
    assert put["statusCode"] == 200
    assert _json(put) == {
        "kind": "deny_device",
        "value": "dev-7f3a9c",
        "reason": "three chargebacks from this phone",
        "by": "cbk_analyst1",
        "at": "2026-03-20T12:00:03Z",
        "expires_at": "2026-06-30T00:00:00Z",
    }
    listed = functions.call("review", api_event("review/lists.json", after=ADMIN_AT))
    assert [entry["value"] for entry in _json(listed)["items"]] == ["dev-7f3a9c"]
    removed = functions.call("review", api_event("review/list_delete.json", after=ADMIN_AT))
    assert removed["statusCode"] == 204
    audit = functions.call("review", api_event("review/list_audit.json", after=ADMIN_AT))
    assert [c["action"] for c in _json(audit)["items"]] == ["delete", "put"]
    again = functions.call("review", api_event("review/list_delete.json", after=ADMIN_AT))
    assert (again["statusCode"], _json(again)["code"]) == (404, "list_entry_not_found")
