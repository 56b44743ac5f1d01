"""A payout's status machine, and the ledger movement each of its transitions implies.

    requested -> submitted -> paid | failed;  paid -> returned (within the return window);
    requested -> canceled (only before submission)

Money: requested moves the amount from `available` to `reserved`; paid from `reserved` to
`paid_out`; failed and canceled give it back from `reserved`, returned from `paid_out`, to
`available`. No path holds two give-backs, so the money comes back at most once a payout.
A status the payout has, or has passed (a late `submitted` after `paid`), is a replay:
`moved=False`, nothing to write. Anything else is a Conflict. There is no requested ->
paid: the job marks a payout submitted before calling the provider, so a timeout leaves it
submitted (polling resolves it) and nobody cancels what the provider may be paying."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, NamedTuple, get_args

from cashback.domain.clock import to_iso
from cashback.domain.errors import Conflict

PayoutStatus = Literal["requested", "submitted", "paid", "failed", "canceled", "returned"]
STATUSES: tuple[PayoutStatus, ...] = get_args(PayoutStatus)
DEFAULT_RETURN_WINDOW_DAYS = 30

# Where each status may go next (besides staying where it is).
NEXT: dict[PayoutStatus, frozenset[PayoutStatus]] = {
    "requested": frozenset({"submitted", "canceled"}),
    "submitted": frozenset({"paid", "failed"}),
    "paid": frozenset({"returned"}),
    "failed": frozenset(),
    "canceled": frozenset(),
    "returned": frozenset(),
}
# The statuses a payout passed through on its way to each status: an event asking for one
# of them is a late replay.
PASSED: dict[PayoutStatus, frozenset[PayoutStatus]] = {
    "requested": frozenset(),
    "submitted": frozenset({"requested"}),
    "paid": frozenset({"requested", "submitted"}),
    "failed": frozenset({"requested", "submitted"}),
    "canceled": frozenset({"requested"}),
    "returned": frozenset({"requested", "submitted", "paid"}),
}


class Movement(NamedTuple):
    """The amount leaves one field of the customer's account for another
    (cashback.domain.ledger.accounts FIELDS)."""

    source: str
    target: str

    def deltas(self, amount: int) -> dict[str, int]:
        """The change to each field: `{"available": -amount, "reserved": amount}`."""
        return {self.source: -amount, self.target: amount}


# The movement that entering each status implies.
MOVEMENTS: dict[PayoutStatus, Movement | None] = {
    "requested": Movement("available", "reserved"),
    "submitted": None,
    "paid": Movement("reserved", "paid_out"),
    "failed": Movement("reserved", "available"),
    "canceled": Movement("reserved", "available"),
    "returned": Movement("paid_out", "available"),
}
GIVE_BACKS: frozenset[PayoutStatus] = frozenset({"failed", "canceled", "returned"})


@dataclass(frozen=True)
class Transition:
    """The answer to "move this payout to that status": where it is after, and whether
    anything happened (False: it was already so, or already past it; write nothing)."""

    before: PayoutStatus | None
    after: PayoutStatus
    moved: bool

    @property
    def movement(self) -> Movement | None:
        return MOVEMENTS[self.after] if self.moved else None

    def deltas(self, amount: int) -> dict[str, int]:
        """What the account's fields change by ({} when nothing moves)."""
        movement = self.movement
        return movement.deltas(amount) if movement else {}

    @property
    def event_type(self) -> str | None:
        """The event it publishes (`payout.paid`); None when nothing moved."""
        return f"payout.{self.after}" if self.moved else None

    @property
    def gives_back(self) -> bool:
        """The amount returns to `available` with this transition."""
        return self.moved and self.after in GIVE_BACKS


def transition(
    current: PayoutStatus | None,
    target: PayoutStatus,
    *,
    paid_at: datetime | None = None,
    now: datetime | None = None,
    return_window_days: int = DEFAULT_RETURN_WINDOW_DAYS,
) -> Transition:
    """Move a payout in status `current` (None: not yet recorded) to `target`.

    A return needs `paid_at` and `now` (the return's own time, from its event): it is
    accepted while `now` is at most `return_window_days` days after `paid_at`."""
    if current is None:
        if target != "requested":
            raise _invalid(current, target)
        return Transition(None, "requested", moved=True)
    if target == current or target in PASSED[current]:
        return Transition(current, current, moved=False)
    if target == "canceled" and current != "requested":
        raise Conflict(
            f"a payout can be canceled only before it is submitted; this one is {current}",
            code="payout_not_cancelable",
            details={"status": current},
        )
    if target not in NEXT[current]:
        raise _invalid(current, target)
    if target == "returned":
        _check_return_window(paid_at, now, return_window_days)
    return Transition(current, target, moved=True)


def _check_return_window(paid_at: datetime | None, now: datetime | None, days: int) -> None:
    if paid_at is None or now is None:
        raise ValueError("a return needs the payout's paid_at and the return's time")
    closes_at = paid_at + timedelta(days=days)
    if now > closes_at:
        raise Conflict(
            f"a paid payout can be returned up to {days} days after it was paid; "
            f"the window closed at {to_iso(closes_at)}",
            code="return_window_over",
            details={"paid_at": to_iso(paid_at), "return_window_days": days},
        )


def _invalid(current: PayoutStatus | None, target: PayoutStatus) -> Conflict:
    allowed = sorted(NEXT[current]) if current else ["requested"]
    return Conflict(
        f"a payout cannot go from {current or 'nothing'} to {target}",
        code="payout_transition_invalid",
        details={"status": current, "target": target, "allowed": allowed},
    )
