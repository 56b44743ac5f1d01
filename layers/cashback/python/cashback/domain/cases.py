"""A held purchase as a risk analyst sees it: the case (the order, its screening, the
customer's balance, ledger and history, notes, linked accounts), who has claimed it, and
the verdict that closes it."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from cashback.domain.balances import Balance, History
from cashback.domain.clock import from_iso, to_iso
from cashback.domain.errors import Conflict
from cashback.domain.orders import Order
from cashback.domain.risk.features import CustomerAggregates

CaseState = Literal["open", "approved", "rejected", "refunded"]
CaseSort = Literal["risk", "age", "amount"]
CASE_STATES: tuple[CaseState, ...] = ("open", "approved", "rejected", "refunded")
# How long opening a case keeps it for one analyst; claiming again extends it.
CLAIM_MINUTES = 30


def state_of(order: Order) -> CaseState | None:
    """Where a case stands: open, decided (approved / rejected), or closed by a refund
    before anyone decided. None: the purchase opened no case."""
    if order.case_status == "open":
        return "open"
    if order.case_status != "closed":
        return None
    if order.decision:
        return "approved" if order.decision.get("decision") == "approve" else "rejected"
    return "refunded"


@dataclass(frozen=True)
class Claim:
    """An analyst's hold on an open case: others see it, and may not decide while it lasts
    unless they take it over (with a reason, kept in the case's claim log)."""

    by: str
    until: str
    at: str
    taken_from: str | None = None
    reason: str | None = None

    def live(self, now: datetime) -> bool:
        return from_iso(self.until) > now

    def to_item(self) -> dict[str, str]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_item(cls, item: dict[str, str] | None) -> Claim | None:
        return cls(**item) if item else None


def claim(order: Order, analyst: str, now: datetime, take_over: bool, reason: str) -> Claim:
    """The claim an analyst gets on opening a case. Someone else's live claim is 409
    `case_claimed` (with who and until when) unless the analyst takes it over."""
    if order.case_status != "open":
        raise Conflict("this case is closed", code="case_closed")
    held = Claim.from_item(order.claim)
    other = held is not None and held.by != analyst and held.live(now)
    if other and not take_over:
        raise claimed(held)  # type: ignore[arg-type]
    return Claim(
        by=analyst,
        until=to_iso(now + timedelta(minutes=CLAIM_MINUTES)),
        at=to_iso(now),
        taken_from=held.by if other and held else None,
        reason=reason or None if other else None,
    )


def claimed(held: Claim) -> Conflict:
    return Conflict(
        f"this case is claimed by {held.by} until {held.until}",
        code="case_claimed",
        details={"by": held.by, "until": held.until},
    )


def check_claim(order: Order, analyst: str, now: datetime) -> None:
    """A decision is the claimant's while their claim lasts (or anyone's when none does)."""
    held = Claim.from_item(order.claim)
    if held is not None and held.by != analyst and held.live(now):
        raise claimed(held)


@dataclass(frozen=True)
class Note:
    note_id: str
    by: str
    at: str
    text: str


@dataclass(frozen=True)
class Linked:
    """Another customer seen on the same device or payment fingerprint, and their cases."""

    customer_id: str
    via: str  # device | payment
    cases: tuple[Order, ...] = ()


@dataclass(frozen=True)
class Case:
    order: Order
    balance: Balance
    recent: History
    history: CustomerAggregates | None  # None: the customer has no risk aggregates yet
    notes: tuple[Note, ...] = ()
    linked: tuple[Linked, ...] = ()
    cases: tuple[Order, ...] = field(default=())  # the customer's other cases, newest first
    held: int = 0  # the cashback still held for the decision
    # Each feature as screened: (name, value, percentile 0..100 among the storefront's
    # recent purchases, None when it has too few).
    features: tuple[tuple[str, float, float | None], ...] = ()


CustomerList = Literal["watch_customer", "deny_customer"]


@dataclass(frozen=True)
class Ruling:
    """What an analyst decides on a case: approve or reject, the close reason (the next
    model's label), a note, and optionally a list to put the customer on (watch: their
    next purchases go to review; deny: they earn no cashback)."""

    verdict: str  # approve | reject
    note: str = ""
    reason: str | None = None
    customer_list: CustomerList | None = None


@dataclass(frozen=True)
class Verdict:
    """The reply to a decision, kept on the order so a retried request gets it again."""

    order_id: str
    decision: str  # approve | reject
    status: str  # pending | available | no_cashback | rejected
    cashback: int
    customer_list: str | None = None  # the list the decision put the customer on

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Verdict:
        return cls(**json.loads(text))


@dataclass(frozen=True)
class AnalystTally:
    analyst: str
    approved: int = 0
    rejected: int = 0


@dataclass(frozen=True)
class QueueStats:
    """The team's view of the queue: its size and age, and who decided what lately."""

    open: int
    claimed: int
    oldest_open_at: str | None
    oldest_age_seconds: int | None
    days: int
    approved: int
    rejected: int
    by_analyst: tuple[AnalystTally, ...]

    @property
    def decided(self) -> int:
        return self.approved + self.rejected

    @property
    def approval_rate(self) -> Decimal | None:
        """Approved / decided, to four places; None before any decision."""
        if not self.decided:
            return None
        return (Decimal(self.approved) / Decimal(self.decided)).quantize(Decimal("0.0001"))


def queue_stats(
    opened: list[dict[str, Any]], decided: list[dict[str, Any]], now: datetime, days: int
) -> QueueStats:
    """Stats from the open cases (their claims and times) and the decisions taken."""
    claimed = sum(
        1
        for row in opened
        if (held := Claim.from_item(row.get("claim"))) is not None and held.live(now)
    )
    oldest = min((row["occurred_at"] for row in opened), default=None)
    tallies: dict[str, dict[str, int]] = {}
    for made in decided:
        tally = tallies.setdefault(str(made.get("by", "")), {"approved": 0, "rejected": 0})
        tally["approved" if made.get("decision") == "approve" else "rejected"] += 1
    return QueueStats(
        open=len(opened),
        claimed=claimed,
        oldest_open_at=oldest,
        oldest_age_seconds=None
        if oldest is None
        else max(0, int((now - from_iso(oldest)).total_seconds())),
        days=days,
        approved=sum(t["approved"] for t in tallies.values()),
        rejected=sum(t["rejected"] for t in tallies.values()),
        by_analyst=tuple(AnalystTally(name, **counts) for name, counts in sorted(tallies.items())),
    )


def priority_of(order: Order) -> float:
    """The score a case sorts by in the risk order: its own, or the riskier score of its
    customer's later purchase it was raised to."""
    if order.priority:
        return float(order.priority["score"])
    return float((order.risk or {}).get("score") or 0)


def raised(purchase: Order, open_cases: list[Order]) -> list[tuple[Order, float, str]]:
    """The open cases to raise after `purchase` was screened, each with the score it rises
    to and the order that score came from: the riskiest of the purchase's score and the
    cases' priorities (the purchase's own case, if it opened one, is among them)."""
    candidates = [(float((purchase.risk or {}).get("score") or 0), purchase.order_id)]
    for case in open_cases:
        source = case.priority["from"] if case.priority else case.order_id
        candidates.append((priority_of(case), source))
    top, source = max(candidates)
    return [(case, top, source) for case in open_cases if priority_of(case) < top]
