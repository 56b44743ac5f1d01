"""Entries and the hash chain: every change of an account is an immutable entry that
carries the hash of the one before it, so an edit or a gap shows (verify_chain)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from typing import Literal

from cashback.domain.ledger.accounts import FIELDS, GENESIS, Account

EntryKind = Literal[
    "purchase",
    "refund",
    "ripen",
    "expire",
    "approve",
    "reject",
    # Redemptions at checkout: spent at once, held, a hold captured, cancelled or expired,
    # and cashback coming back with the goods it paid for.
    "redeem",
    "hold",
    "capture",
    "cancel",
    "hold_expired",
    "reversal",
    # Payouts: requested (reserved), paid (paid out), failed, canceled or returned (back).
    "payout",
    "payout_paid",
    "payout_failed",
    "payout_canceled",
    "payout_returned",
]


@dataclass(frozen=True)
class Entry:
    tenant: str
    customer_id: str
    seq: int
    kind: EntryKind
    ref: str
    order_id: str
    occurred_at: str
    deltas: dict[str, int]
    prev_hash: str
    hash: str = ""
    # The rules' breakdown of a purchase's cashback (compact JSON), under the hash too.
    detail: str | None = None

    def body(self) -> dict[str, object]:
        extra = {"detail": self.detail} if self.detail is not None else {}
        return {
            **extra,
            "tenant": self.tenant,
            "customer_id": self.customer_id,
            "seq": self.seq,
            "kind": self.kind,
            "ref": self.ref,
            "order_id": self.order_id,
            "occurred_at": self.occurred_at,
            "deltas": {k: v for k, v in sorted(self.deltas.items()) if v},
            "prev_hash": self.prev_hash,
        }

    def computed_hash(self) -> str:
        canonical = json.dumps(self.body(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


def append(
    account: Account,
    kind: EntryKind,
    ref: str,
    order_id: str,
    occurred_at: str,
    deltas: dict[str, int],
    detail: str | None = None,
) -> tuple[Entry, Account]:
    """Chain a new entry onto the account and apply its deltas."""
    unknown = set(deltas) - set(FIELDS)
    if unknown:
        raise ValueError(f"unknown ledger fields {unknown}")
    entry = Entry(
        account.tenant,
        account.customer_id,
        account.seq + 1,
        kind,
        ref,
        order_id,
        occurred_at,
        {k: v for k, v in deltas.items() if v},
        account.head,
        detail=detail,
    )
    entry = replace(entry, hash=entry.computed_hash())
    values = {k: account.values[k] + deltas.get(k, 0) for k in FIELDS}
    if values["available"] < 0 or values["pending"] < 0 or values["debt"] < 0:
        raise ValueError("a ledger entry may not drive a balance below zero")
    return entry, replace(account, seq=entry.seq, head=entry.hash, values=values)


def verify_chain(account: Account, entries: list[Entry]) -> list[str]:
    """Problems with an account's history (oldest entry first); empty when it is intact."""
    problems: list[str] = []
    head, sums = GENESIS, dict.fromkeys(FIELDS, 0)
    for expected_seq, entry in enumerate(entries, start=1):
        where = f"{account.customer_id} entry {entry.seq}"
        if entry.seq != expected_seq:
            problems.append(f"{where}: expected sequence {expected_seq} (an entry is missing)")
        if entry.prev_hash != head:
            problems.append(f"{where}: does not point at the previous entry's hash")
        if entry.computed_hash() != entry.hash:
            problems.append(f"{where}: content does not match its hash (edited)")
        head = entry.hash
        for name, delta in entry.deltas.items():
            sums[name] += delta
    if account.seq != len(entries) or account.head != head:
        problems.append(f"{account.customer_id}: account head does not match the last entry")
    for name in FIELDS:
        if sums[name] != account.values[name]:
            problems.append(
                f"{account.customer_id}: {name} is {account.values[name]} but its "
                f"entries sum to {sums[name]}"
            )
    if not account.conserved():
        problems.append(f"{account.customer_id}: earned does not equal where it went")
    return problems
