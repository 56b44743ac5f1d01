"""What one money movement changes, as one value the storage port commits in a single
transaction, and how such a commit can fail (the table moved under it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cashback.domain.ledger import Account, Entry, Lot, Notice
from cashback.domain.lists import ListEntry
from cashback.domain.orders import Order, Refund
from cashback.domain.payouts.records import Payout
from cashback.domain.redemptions import Redemption, Reversal

# A transaction carries at most 100 items. A purchase writes its order, lot, entry and
# account, and the aggregates of its device and payment fingerprint, and with a return
# window of zero also the lot's ripening entry and its notice: what is left is for the
# budget shards it takes (one per budgeted campaign at least; see services.purchases).
TRANSACT_MAX_ITEMS = 100
PURCHASE_ITEMS = 8
BUDGET_ITEMS = TRANSACT_MAX_ITEMS - PURCHASE_ITEMS
# A refund writes its record, the order, the order's lot, the entry and the account; under
# claw_back_within_balance the customer's other lots it takes from fill the rest (one of
# those read may be the order's own lot, which is not written twice).
REFUND_ITEMS = 5
REFUND_BALANCE_LOTS = TRANSACT_MAX_ITEMS - REFUND_ITEMS
# A redemption writes its record, the entry and the account (a reversal also its own
# record): the lots it draws from, or gives back to, fill the rest.
REDEMPTION_LOTS = TRANSACT_MAX_ITEMS - 4

Identity = tuple[str, str]  # (kind, key): ("device", id) or ("payment", fingerprint)
BudgetTake = tuple[str, int, int]  # (campaign, shard, amount)


@dataclass(frozen=True)
class PurchaseChange:
    """A purchase: its order record, its lot (None: nothing to credit), its entries (the
    purchase's, then its ripening when available at once), the account before and after.
    `budget_takes` decrement campaign budget shards, each on the condition the shard still
    has the amount; `identities` are the device and payment fingerprint that have not seen
    this customer yet (each gets the customer's own marker, unconditionally, so customers
    sharing a device never contend); `notices` wait in the due index until the lifecycle
    job publishes them (cashback available at once)."""

    order: Order
    lot: Lot | None
    entries: tuple[Entry, ...]
    before: Account
    after: Account
    now: str
    budget_takes: tuple[BudgetTake, ...] = ()
    identities: tuple[Identity, ...] = ()
    # Customer events the purchase makes (cashback.available at once, milestone.reached;
    # issue 12): in the due index until the lifecycle job publishes them.
    notices: tuple[Notice, ...] = ()


@dataclass(frozen=True)
class RefundChange:
    """A refund: its record, the order as it becomes (on the condition it still shows
    `refunded_before`), the order's lot and the customer's other lots it takes from
    (each as read, then as written), the entry, the account before and after."""

    refund: Refund
    order: Order
    refunded_before: int
    lot_before: Lot | None
    lot_after: Lot | None
    entry: Entry
    before: Account
    after: Account
    now: str
    other_lots: tuple[tuple[Lot, Lot], ...] = ()


@dataclass(frozen=True)
class DecisionChange:
    """An analyst's decision closing an open case, moving the held cashback with it; the
    order's status becomes the decision's outcome (rejected, pending, available or
    no_cashback). `entries`: the decision's, then the lot's ripening when approved past
    its return window, whose notice waits in `notices` for the lifecycle job."""

    order: Order
    decision: dict[str, Any]
    lot_before: Lot
    lot_after: Lot
    entries: tuple[Entry, ...]
    before: Account
    after: Account
    now: str
    status: str | None = None
    listed: ListEntry | None = None  # the customer's watch / deny entry, with the decision
    notices: tuple[Notice, ...] = ()


@dataclass(frozen=True)
class LotChange:
    """One lot moved forward by the lifecycle: the lot, its entries, the account, and the
    notices to publish, which wait in the due index (`due_bucket`) until published."""

    lot_before: Lot
    lot_after: Lot
    entries: tuple[Entry, ...]
    before: Account
    after: Account
    notices: tuple[Notice, ...]
    due_bucket: str
    now: str


@dataclass(frozen=True)
class RedemptionChange:
    """A redemption made, or a hold resolved, or a reversal: the record as it becomes (new
    when `version_before` is None, else on the condition it is still at that version), the
    lots as read and as written, the entry, the account before and after."""

    redemption: Redemption
    version_before: int | None
    lots: tuple[tuple[Lot, Lot], ...]
    entry: Entry
    before: Account
    after: Account
    now: str
    reversal: Reversal | None = None


@dataclass(frozen=True)
class PayoutChange:
    """A payout requested or moved along its status machine: the record as it becomes (new
    when `version_before` is None, else on the condition it is still at that version), and
    the money its transition moves: the lots, the entry, the account (none for a step that
    moves no money, such as submitted)."""

    payout: Payout
    version_before: int | None
    now: str
    lots: tuple[tuple[Lot, Lot], ...] = ()
    entry: Entry | None = None
    before: Account | None = None
    after: Account | None = None
    # The event this step publishes (detail type, detail), kept in an outbox item written
    # in the same transaction until the bus took it: no committed step loses its event.
    event: tuple[str, dict[str, Any]] | None = None


class BudgetShort(Exception):
    """A campaign budget shard no longer had what the purchase wanted to take."""

    def __init__(self, campaigns: tuple[str, ...]) -> None:
        super().__init__(f"budget short for {campaigns}")
        self.campaigns = campaigns


class AlreadyRecorded(Exception):
    """The idempotency record appeared between our read and our write."""


class AccountMoved(Exception):
    """Another writer changed the account or lot first (or a budget shard ran short);
    read again and retry. `failed` holds the positions of the items whose condition
    failed."""

    def __init__(self, failed: tuple[int, ...] = ()) -> None:
        super().__init__(f"conditions failed at {failed}")
        self.failed = failed
