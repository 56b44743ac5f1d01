"""The whole local stack: DynamoDB Local (or moto), the table from template.yaml, tenants
with fresh API keys, and the gateway serving the template's routes and the Invoke API."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self

from cashback.adapters.dynamodb.store import Store
from cashback.domain.clock import to_iso
from cashback.domain.tenants import TenantSettings
from cashback.services import keys
from cashback_tools.local.dynamodb_local import LocalStore, start_store
from cashback_tools.local.gateway import LocalGateway
from cashback_tools.local.iam import Denial, Policies, event_bus_arn, table_arn
from cashback_tools.local.iam_proxy import IamProxy
from cashback_tools.local.stream_mapping import MappingRefused, check_permissions, stream_mappings
from cashback_tools.local.streams import StreamEmulator
from cashback_tools.local.template import Template, load_template

TABLE_NAME = "cashback-local"
EVENT_BUS_NAME = "cashback-local"
StoreKind = Literal["dynamodb-local", "memory"]


def find_template(start: Path | None = None) -> Path:
    """template.yaml in this folder or the nearest one above it."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "template.yaml").is_file():
            return folder / "template.yaml"
    raise FileNotFoundError("no template.yaml here or above; run from the project checkout")


class LocalStack:
    def __init__(
        self,
        template_path: Path | None = None,
        *,
        tenants: tuple[str, ...] = ("demo",),
        currency: str = "BRL",
        backdate_days: int = 7,
        store: StoreKind = "dynamodb-local",
        port: int = 0,
        quiet: bool = False,
        risk_mode: Literal["enforce", "shadow", "off"] = "enforce",
        settings: TenantSettings | None = None,
        function_env: Mapping[str, str] | None = None,
        time_travel: bool = False,
        throttling: bool = True,
    ) -> None:
        self.template_path = template_path or find_template()
        self.tenants = tenants
        self.settings = settings or TenantSettings(
            currency=currency, backdate_days=backdate_days, risk_mode=risk_mode
        )
        self.store_kind: StoreKind = store
        self.port = port
        self.quiet = quiet
        # Extra variables for every function (on top of the template's and the stack's).
        self.function_env = dict(function_env or {})
        # Replaying history: ExpiryFunction accepts scheduled times ahead of its clock.
        # Never on by default, never in template.yaml (`cashback serve --time-travel`).
        self.time_travel = time_travel
        # The template's usage plan throttles each tenant; False lifts it (for tests that
        # burst far above a storefront's limits on purpose).
        self.throttling = throttling
        self.keys: dict[str, dict[str, str]] = {}
        self._dynamodb: LocalStore | None = None
        self._gateway: LocalGateway | None = None
        self._iam_proxy: IamProxy | None = None
        self._streams: StreamEmulator | None = None
        self._stream_denials: list[dict[str, str]] = []
        self._env: dict[str, str] = {}
        self.policies: Policies | None = None
        self.template: Template | None = None
        self.store: Store | None = None

    @property
    def url(self) -> str:
        assert self._gateway is not None, "the stack is not running"
        return self._gateway.url

    @property
    def endpoint_url(self) -> str:
        assert self._dynamodb is not None, "the stack is not running"
        return self._dynamodb.endpoint_url

    def start(self) -> Self:
        for tenant in self.tenants:
            if not keys.TENANT_PATTERN.match(tenant):
                raise ValueError(f"tenant {tenant!r} must be lowercase letters, digits and '-'")
        self.template = load_template(self.template_path)
        self._dynamodb = start_store(self.store_kind, self.template.directory)
        self._refs = {"LedgerTable": TABLE_NAME, "CashbackEventBus": EVENT_BUS_NAME}
        # Functions reach the table through the IAM-checking proxy: a call signed with a
        # function's access key id (its logical id) gets only what its policy allows.
        self.policies = Policies.from_template(
            self.template,
            {
                "LedgerTable": TABLE_NAME,
                "LedgerTable.Arn": table_arn(TABLE_NAME),
                "CashbackEventBus": EVENT_BUS_NAME,
                "CashbackEventBus.Arn": event_bus_arn(EVENT_BUS_NAME),
            },
        )
        self._iam_proxy = IamProxy(self._dynamodb.endpoint_url, self.policies).start()
        env = {
            **self._dynamodb.env(),
            "AWS_ENDPOINT_URL_DYNAMODB": self._iam_proxy.url,
            "TABLE_NAME": TABLE_NAME,
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "ERROR" if self.quiet else "INFO",
            **self.function_env,
            "CASHBACK_TIME_TRAVEL": "true" if self.time_travel else "false",
        }
        # Each function runs in worker processes of its own with its own variables from the
        # template, this env and credentials that name it (cashback_tools.local.pool); tools
        # and tests in this process read the table and the store from os.environ.
        os.environ.update(env)
        client = self._dynamodb.client()
        client.create_table(**self.template.table_create_params(table_name=TABLE_NAME))
        client.get_waiter("table_exists").wait(TableName=TABLE_NAME)
        self.store = Store(TABLE_NAME, client)
        now = to_iso(datetime.now(UTC))
        for tenant in self.tenants:
            self.add_tenant(tenant, self.settings, now)
        self._env = env
        self._gateway = self.gateway(port=self.port, throttling=self.throttling)
        self._gateway.start()
        # The gateway also records EventBridge's PutEvents (its workers are pointed at it).
        os.environ["AWS_ENDPOINT_URL_EVENTBRIDGE"] = self._gateway.url
        try:
            self._streams = self._stream_emulator()
        except BaseException:
            self.stop()
            raise
        return self

    def _stream_emulator(self) -> StreamEmulator | None:
        """The template's stream event source mappings, created as Lambda creates them
        (the role checked first), polling until stop(); None when there are none."""
        assert self.template is not None and self._dynamodb is not None
        assert self.policies is not None
        mappings = stream_mappings(self.template, self._refs)
        if not mappings:
            return None
        arns = {}
        for mapping in mappings:
            if mapping.table != "LedgerTable":
                raise MappingRefused(f"{mapping.name}: the local stack has only LedgerTable")
            table = self._dynamodb.client().describe_table(TableName=TABLE_NAME)["Table"]
            arns[mapping.table] = table["LatestStreamArn"]
            check_permissions(mapping, self.policies, arns[mapping.table], self._denied)
        emulator = StreamEmulator(mappings, self._dynamodb.streams_client(), arns, self.invoke)
        return emulator.start()

    def _denied(self, denial: Denial) -> None:
        self._stream_denials.append(
            {"principal": denial.principal, "action": denial.action, "resource": denial.resource}
        )
        line = f"IAM denied {denial.principal}: {denial.action} on {denial.resource}"
        print(line, file=sys.stderr)

    @property
    def function_environment(self) -> dict[str, str]:
        """What the stack adds to every function's environment (table, endpoints, flags)."""
        assert self._gateway is not None, "the stack is not running"
        return dict(self._env)

    @property
    def iam_endpoint_url(self) -> str:
        """The IAM-checking DynamoDB endpoint the functions use."""
        assert self._iam_proxy is not None, "the stack is not running"
        return self._iam_proxy.url

    @property
    def iam_denials(self) -> list[dict[str, str]]:
        """Every DynamoDB call IAM refused so far, and every permission a stream's event
        source mapping lacked when it was created: principal, action, resource."""
        proxied = list(self._iam_proxy.denials) if self._iam_proxy is not None else []
        return [*self._stream_denials, *proxied]

    def gateway(self, **options: Any) -> LocalGateway:
        """A gateway (not started) on this stack's table and functions; the stack's own is
        one. Options are LocalGateway's, e.g. a `clock` for its usage plan throttling."""
        assert self.template is not None, "the stack is not running"
        return LocalGateway(
            self.template,
            self._env,
            **{"quiet": self.quiet, "refs": self._refs, "policies": self.policies, **options},
        )

    def dynamodb_client(self) -> object:
        """A fresh boto3 DynamoDB client on the stack's store (for tools and tests)."""
        assert self._dynamodb is not None, "the stack is not running"
        return self._dynamodb.client()

    @property
    def events(self) -> list[dict[str, Any]]:
        """What the functions published to EventBridge so far."""
        assert self._gateway is not None, "the stack is not running"
        return list(self._gateway.events)

    def invoke(self, function: str, event: object) -> object:
        """Run a function (e.g. a scheduled job) with any event, in its worker."""
        assert self._gateway is not None, "the stack is not running"
        return self._gateway.invoke(function, event)

    def settle(self, timeout: float = 60.0) -> None:
        """Return once every record written to the table's stream before the call has been
        handled (delivered and succeeded, filtered out, or sent to the on-failure
        destination); TimeoutError says what is stuck."""
        if self._streams is not None:
            self._streams.settle(timeout)

    def pause_streams(self) -> None:
        """Hold the stream's delivery back (records wait in the stream) until resumed."""
        if self._streams is not None:
            self._streams.pause()

    def resume_streams(self) -> None:
        if self._streams is not None:
            self._streams.resume()

    @property
    def stream_failures(self) -> list[dict[str, Any]]:
        """The on-failure destination's messages (Lambda's records of what it gave up on)."""
        return list(self._streams.failures) if self._streams is not None else []

    @property
    def stream_counters(self) -> dict[str, int]:
        """Records read, kept by the filters, delivered; invocations, retries, bisections,
        records sent to the on-failure destination (stream_delivery.Counters)."""
        return self._streams.counters if self._streams is not None else {}

    def add_tenant(self, tenant: str, settings: TenantSettings, now: str) -> dict[str, str]:
        """Create a tenant with one fresh key per scope. Its usage plan key is made up
        here (on AWS, `cashback tenants create` makes a real API key): the local gateway
        throttles every usage identifier key under the template's one usage plan."""
        assert self.store is not None
        self.store.put_tenant(tenant, settings, now, usage_key=keys.new_usage_key())
        self.keys[tenant] = {
            scope: keys.create_key(self.store, tenant, [scope], now) for scope in keys.SCOPES
        }
        return self.keys[tenant]

    def stop(self) -> None:
        if self._streams is not None:
            self._streams.stop()
            self._streams = None
        if self._gateway is not None:
            self._gateway.stop()
            self._gateway = None
        if self._iam_proxy is not None:
            self._iam_proxy.stop()
            self._iam_proxy = None
        if self._dynamodb is not None:
            self._dynamodb.stop()
            self._dynamodb = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
