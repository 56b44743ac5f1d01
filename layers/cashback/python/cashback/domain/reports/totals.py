"""What one ledger entry or one lot change adds to the report totals: counters on a
tenant's day (entries, by kind and field) and on its earning-month cohort (lots)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from cashback.domain.ledger.entries import Entry
from cashback.domain.ledger.lots import Lot
from cashback.domain.reports import program

DAY = "DAY#"
COHORT = "COHORT#"
# What a lot measures for its cohort. A held lot is not issued yet; a voided one never was.
LOT_MEASURES = (
    "issued",
    "held",
    "voided",
    "netted",
    "pending",
    "available",
    "spent",
    "expired",
    "clawed_back",
)


def entry_counters(entry: Entry) -> tuple[str, dict[str, int]]:
    """The day an entry happened on, and `<kind>.<field>` sums plus `<kind>.n` (a count)."""
    counters = {f"{entry.kind}.{name}": delta for name, delta in entry.deltas.items() if delta}
    counters[f"{entry.kind}.n"] = 1
    return DAY + entry.occurred_at[:10], counters


def lot_measures(lot: Lot | None) -> dict[str, int]:
    if lot is None:
        return {}
    if lot.status == "HELD":
        return {"held": lot.pending}
    if lot.status == "VOIDED":
        return {"voided": lot.gross}
    return {
        "issued": lot.gross,
        "netted": lot.netted,
        "pending": lot.pending,
        "available": lot.available,
        "spent": lot.spent,
        "expired": lot.expired,
        "clawed_back": lot.clawed_back,
    }


def lot_counters(before: Lot | None, after: Lot) -> tuple[str, dict[str, int]]:
    """The lot's cohort, and how its change moved the cohort's measures (new less old)."""
    old, new = lot_measures(before), lot_measures(after)
    moved = {name: new.get(name, 0) - old.get(name, 0) for name in LOT_MEASURES}
    return COHORT + after.cohort, {name: value for name, value in moved.items() if value}


@dataclass(frozen=True)
class Change:
    """One stream record the reports fold: a new ledger entry, a lot's new state (with the
    one before it; None when the lot is new), or a new purchase's record. `record_id` is
    the stream's event id."""

    record_id: str
    entry: Entry | None = None
    lot: Lot | None = None
    lot_before: Lot | None = None
    purchase: program.Purchase | None = None


@dataclass
class Fold:
    """Counters to add, per (tenant, report item), summed over a run of stream records."""

    items: dict[tuple[str, str], Counter[str]] = field(default_factory=dict)
    records: int = 0

    def targets(self, change: Change) -> list[tuple[str, str, dict[str, int]]]:
        """The report items a change adds to: (tenant, item, counters)."""
        if change.entry is not None:
            return [(change.entry.tenant, *entry_counters(change.entry))]
        if change.purchase is not None:
            tenant = change.purchase.tenant
            return [(tenant, item, added) for item, added in program.counters(change.purchase)]
        assert change.lot is not None, "a change is an entry, a lot or a purchase"
        return [(change.lot.tenant, *lot_counters(change.lot_before, change.lot))]

    def fits(self, change: Change, max_items: int) -> bool:
        """Whether the change can join without the fold touching more than max_items."""
        new = {(t, item) for t, item, added in self.targets(change) if added} - set(self.items)
        return len(self.items) + len(new) <= max_items

    def add_change(self, change: Change) -> None:
        self.records += 1
        for tenant, item, added in self.targets(change):
            if added:
                self.items.setdefault((tenant, item), Counter()).update(added)

    def counters(self) -> dict[tuple[str, str], dict[str, int]]:
        """Each item's non-zero counters (an item whose changes cancel out is left out)."""
        return {
            key: dict(nonzero)
            for key, summed in self.items.items()
            if (nonzero := {name: value for name, value in summed.items() if value})
        }
