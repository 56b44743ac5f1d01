"""Ledger audits: the hash chain, the balances behind it, and conservation."""

from __future__ import annotations

from dataclasses import dataclass, field

from cashback.adapters.dynamodb.store import Store
from cashback.domain.ledger import verify_chain


@dataclass
class AuditReport:
    customers: int = 0
    entries: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(store: Store, tenant: str, customer_id: str | None = None) -> AuditReport:
    report = AuditReport()
    customers = [customer_id] if customer_id else store.customers(tenant)
    for customer in customers:
        account = store.get_account(tenant, customer)
        entries = store.all_entries(tenant, customer)
        report.customers += 1
        report.entries += len(entries)
        report.problems += verify_chain(account, entries)
    return report
