"""Cashback leaving the balance, and coming back: a redemption or payout draws on the
available lots earliest deadline first (settling debt before anything is spendable), and
what comes back (a cancelled hold, the rest of a partial capture, a reversal, a failed
payout) returns to the very lots it was drawn from, with their deadlines.

A lot's `spent` counts what redemptions and payouts drew from it, held or final; the
account tells held (`reserved`) from final (`spent`, `paid_out`). Every function here
takes the lots as read and returns them as they become, with one entry on the account.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Literal

from cashback.domain.ledger.accounts import Account
from cashback.domain.ledger.entries import Entry, EntryKind, append
from cashback.domain.ledger.lots import Lot, LotStatus

# Where drawn cashback sits on the account while it is out: held at checkout or for a
# payout (`reserved`), spent at checkout (`spent`), paid out in cash (`paid_out`).
Outflow = Literal["reserved", "spent", "paid_out"]


@dataclass(frozen=True)
class Draw:
    """What was drawn from one lot (the lot's key: its first deadline and its order)."""

    expires_at: str
    order_id: str
    amount: int

    @property
    def key(self) -> tuple[str, str]:
        """The key of the lot it was drawn from (Lot.key)."""
        return self.expires_at, self.order_id


@dataclass(frozen=True)
class Movement:
    """Lots as read and as written, the entry, and the account after it."""

    lots: tuple[tuple[Lot, Lot], ...]
    entry: Entry
    account: Account
    draws: tuple[Draw, ...] = ()  # for a draw: what it took from each lot
    settled: int = 0  # debt repaid on the way


class NotEnough(Exception):
    """The lots read cannot cover the amount (with the debt settled first): `limited` when
    they stopped at `max_lots` (spread too thin for one transaction), else they ran out
    (the account read and the lots disagree: another writer moved in between)."""

    def __init__(self, spendable: int, limited: bool) -> None:
        super().__init__(f"only {spendable} is spendable")
        self.spendable = spendable
        self.limited = limited


def spendable(account: Account) -> int:
    """What the customer may spend or withdraw: available, once debt is settled."""
    return max(0, account["available"] - account["debt"])


def draw(
    account: Account,
    lots: Iterable[Lot],
    amount: int,
    *,
    into: Outflow,
    kind: EntryKind,
    ref: str,
    order_id: str,
    occurred_at: str,
    max_lots: int,
) -> Movement:
    """Take `amount` (after the account's debt) from available lots in the order given
    (earliest deadline first), from at most `max_lots` lots; NotEnough when they fall short."""
    if amount <= 0:
        raise ValueError("a draw takes a positive amount")
    debt = account["debt"]
    need, taken = debt + amount, list[tuple[Lot, int]]()
    for lot in lots:
        if need <= 0 or len(taken) == max_lots:
            break
        if lot.status != "AVAILABLE" or not lot.available:
            continue
        take = min(need, lot.available)
        taken.append((lot, take))
        need -= take
    if need > 0:
        raise NotEnough(max(0, amount - need), limited=len(taken) == max_lots)
    moved, draws, to_settle = [], [], debt
    for lot, take in taken:
        settle = min(to_settle, take)
        to_settle -= settle
        used = take - settle
        after = replace(
            lot,
            available=lot.available - take,
            spent=lot.spent + used,
            clawed_back=lot.clawed_back + settle,
            version=lot.version + 1,
        )
        moved.append((lot, replace(after, status=_status(after))))
        if used:
            draws.append(Draw(lot.expires_at, lot.order_id, used))
    entry, after_account = append(
        account,
        kind,
        ref,
        order_id,
        occurred_at,
        {"available": -(debt + amount), into: amount, "debt": -debt, "clawed_back": debt},
    )
    return Movement(tuple(moved), entry, after_account, tuple(draws), settled=debt)


def give_back(
    account: Account,
    returns: Iterable[tuple[Lot, int]],
    *,
    out_of: Outflow,
    kind: EntryKind,
    ref: str,
    order_id: str,
    occurred_at: str,
    at_least_until: str | None = None,
    finalize: tuple[Outflow, int] | None = None,
) -> Movement:
    """Return what was drawn (`returns`: each lot as read, and how much goes back to it)
    out of `out_of` to available: what a refund of the lot's order let go of goes where
    the refund would have taken it (clawed back), then the customer's debt is repaid. A lot
    whose deadline has passed by `occurred_at` keeps it (the lifecycle expires it again), unless
    `at_least_until` says how long returned cashback stays spendable. `finalize` moves the
    rest of a hold (`out_of`) where it ends (a capture of less than was held) in the same
    entry."""
    debt = account["debt"]
    moved, total, to_settle, reclaimed = [], 0, debt, 0
    for lot, amount in returns:
        if amount <= 0:
            continue
        if amount > lot.spent:
            raise ValueError(f"lot {lot.order_id} gave out {lot.spent}, not {amount}")
        # What a refund let go of comes back to where the refund would have taken it;
        # then the customer's debt is repaid; the rest is theirs again.
        let_go = min(amount, lot.forgiven)
        settle = min(to_settle, amount - let_go)
        to_settle -= settle
        total += amount
        reclaimed += let_go
        after = replace(
            lot,
            spent=lot.spent - amount,
            available=lot.available + amount - settle - let_go,
            clawed_back=lot.clawed_back + settle + let_go,
            forgiven=lot.forgiven - let_go,
            version=lot.version + 1,
        )
        if at_least_until and after.ends_at <= occurred_at and after.available:
            after = replace(after, deadline=at_least_until, remind_at=None, reminded=True)
        moved.append((lot, replace(after, status=_status(after))))
    settled = debt - to_settle
    deltas = {
        "available": total - settled - reclaimed,
        "debt": -settled,
        "clawed_back": settled + reclaimed,
    }
    final_into, final = finalize or (out_of, 0)
    deltas[out_of] = -total - final
    deltas[final_into] = deltas.get(final_into, 0) + final
    entry, after_account = append(account, kind, ref, order_id, occurred_at, deltas)
    return Movement(tuple(moved), entry, after_account, settled=settled)


def to_lots(lots: Mapping[tuple[str, str], Lot], draws: Iterable[Draw]) -> list[tuple[Lot, int]]:
    """Each draw's lot (`lots` by Lot.key, as read) with the amount going back to it: what
    give_back takes."""
    return [(lots[d.key], d.amount) for d in draws]


def latest_first(draws: Iterable[Draw], amount: int) -> list[Draw]:
    """`amount` of what was drawn, from the latest deadlines back: what a partial capture
    returns, so what stays spent is what expired soonest."""
    back, left = [], amount
    for each in sorted(draws, key=lambda d: d.key, reverse=True):
        take = min(left, each.amount)
        if take:
            back.append(Draw(each.expires_at, each.order_id, take))
        left -= take
    if left:
        raise ValueError(f"{amount} is more than was drawn")
    return back


def in_proportion(draws: Iterable[Draw], amount: int) -> list[Draw]:
    """`amount` of what was drawn, shared by the lots in proportion to what each gave
    (largest remainder, ties to the latest deadline): what a reversal returns."""
    drawn = list(draws)
    total = sum(d.amount for d in drawn)
    if amount > total:
        raise ValueError(f"{amount} is more than was drawn ({total})")
    if not amount:
        return []
    shares = [(d, d.amount * amount // total, d.amount * amount % total) for d in drawn]
    short = amount - sum(share for _, share, _ in shares)
    ranked = sorted(
        range(len(shares)),
        key=lambda i: (shares[i][2], *shares[i][0].key),
        reverse=True,
    )
    extra = set(ranked[:short])
    return [
        Draw(d.expires_at, d.order_id, share + (1 if i in extra else 0))
        for i, (d, share, _) in enumerate(shares)
        if share + (1 if i in extra else 0)
    ]


def less(draws: Iterable[Draw], returned: Iterable[Draw]) -> tuple[Draw, ...]:
    """What is still drawn once `returned` came back."""
    back = {r.key: r.amount for r in returned}
    left = []
    for d in draws:
        amount = d.amount - back.get(d.key, 0)
        if amount:
            left.append(Draw(d.expires_at, d.order_id, amount))
    return tuple(left)


def _status(lot: Lot) -> LotStatus:
    """A lot with available cashback is AVAILABLE; one drawn empty is CONSUMED; others
    (clawed back, expired) keep their status until cashback comes back to them."""
    if lot.available:
        return "AVAILABLE"
    if lot.status == "AVAILABLE":
        return "CONSUMED"
    return lot.status
