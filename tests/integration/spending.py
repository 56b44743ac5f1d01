"""A storefront for the money-out tests: its cashback is spendable at once (no return
window, 10% back, no screening), so a test earns, spends and pays out in a few calls; and
the payout job run as its schedule runs it, as of any moment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from cashback.domain.tenants import TenantSettings
from cashback.services import payout_job
from cashback_tools.audit import verify
from cashback_tools.local.sandbox_provider import sandbox_provider
from cashback_tools.local.stack import LocalStack

from . import table
from .client import Api, now_iso

AT_ONCE = TenantSettings(
    currency="BRL", return_window_days=0, cashback_rate="0.10", risk_mode="off"
)


class SpendingShop(Api):
    """One such storefront (made once per tenant name on the session's stack)."""

    def __init__(self, stack: LocalStack, tenant: str) -> None:
        if tenant not in stack.keys:
            stack.add_tenant(tenant, AT_ONCE, now_iso())
        super().__init__(stack.url, stack.keys[tenant]["storefront"])
        self.stack, self.tenant = stack, tenant

    def earn(self, customer: str, *amounts: int, ago_days: int = 0) -> None:
        """Purchases whose cashback (10%) is available now, each `ago_days` old."""
        for amount in amounts:
            at = now_iso(-timedelta(days=ago_days))
            reply = self.purchase(customer, amount, occurred_at=at)
            assert reply.status_code == 201, reply.text
        table.ripen(self.stack, self.tenant, customer, datetime.now(UTC))

    def values(self, customer: str) -> dict[str, int]:
        """The customer's account as stored: balances and totals."""
        assert self.stack.store is not None
        return dict(self.stack.store.get_account(self.tenant, customer).values)

    def audit(self, customer: str) -> None:
        """The ledger's promises hold for the customer (cashback_tools.audit)."""
        assert self.stack.store is not None
        report = verify(self.stack.store, self.tenant, customer)
        assert report.ok, report.problems


def run_payout_job(
    stack: LocalStack, at: datetime | None = None, publish: Any = None
) -> payout_job.JobReport:
    """The payout job as its schedule runs it, as of `at`, on the stack's table, with the
    sandbox provider; events go to `publish` (default: a bus that takes none)."""
    store = stack.store
    assert store is not None
    moment = at or datetime.now(UTC)

    def settings_of(tenant: str) -> tuple[TenantSettings, ZoneInfo]:
        found = store.get_tenant(tenant)
        assert found is not None
        return found, ZoneInfo("UTC")

    return payout_job.run(
        store,
        sandbox_provider(stack, moment),
        moment,
        settings_of,
        publish or (lambda kind, detail: None),
    )
