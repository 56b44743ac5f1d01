"""Breakage by earning-month cohort: of what each month issued, how much expired, was
redeemed (spent or paid out) or taken back, and what is still outstanding; and, for open
cohorts, the breakage to expect, estimated from closed ones by the proportional method of
IFRS 15 / ASC 606 (breakage is recognised in proportion to the redemptions it rides on)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from decimal import ROUND_HALF_EVEN, Decimal


@dataclass(frozen=True)
class Cohort:
    month: str
    issued: int
    redeemed: int
    expired: int
    clawed_back: int
    outstanding: int
    held: int
    voided: int
    breakage_rate: str | None  # expired / issued; a closed cohort's is final
    redemption_rate: str | None  # redeemed / issued
    closed: bool  # nothing outstanding: every unit was redeemed, expired or taken back
    expected_breakage: int  # closed: what expired; open: the estimate at the closed rate
    recognised_breakage: int  # of the expected, what the redemptions so far carry

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class Breakage:
    cohorts: list[Cohort]
    # Expired / issued over the closed cohorts: the rate expected of open ones (None until
    # a cohort has closed).
    expected_rate: str | None
    closed_cohorts: int

    def as_dict(self) -> dict[str, object]:
        return {
            "cohorts": [cohort.as_dict() for cohort in self.cohorts],
            "expected_rate": self.expected_rate,
            "closed_cohorts": self.closed_cohorts,
        }


def _rate(part: int, whole: int) -> Decimal | None:
    return Decimal(part) / Decimal(whole) if whole else None


def _text(rate: Decimal | None) -> str | None:
    return None if rate is None else str(rate.quantize(Decimal("0.0001"), ROUND_HALF_EVEN))


def _units(amount: Decimal) -> int:
    return int(amount.to_integral_value(ROUND_HALF_EVEN))


def breakage(cohorts: Iterable[tuple[str, Mapping[str, int]]], month_now: str) -> Breakage:
    """Each cohort's counters (see domain.reports.totals.lot_measures) made into rates. A
    cohort is closed once its month is over and nothing of it is outstanding."""
    rows = sorted(
        (month, dict(counters))
        for month, counters in cohorts
        if any(name in counters for name in ("issued", "held", "voided"))  # lots, not customers
    )
    closed = [c for month, c in rows if _closed(month, c, month_now)]
    expected = _rate(sum(c.get("expired", 0) for c in closed), sum(c["issued"] for c in closed))
    return Breakage(
        [
            _cohort(month, counters, expected, _closed(month, counters, month_now))
            for month, counters in rows
        ],
        _text(expected),
        len(closed),
    )


def _closed(month: str, c: Mapping[str, int], month_now: str) -> bool:
    outstanding = c.get("pending", 0) + c.get("available", 0) + c.get("held", 0)
    return month < month_now and c.get("issued", 0) > 0 and not outstanding


def _cohort(month: str, c: Mapping[str, int], expected: Decimal | None, closed: bool) -> Cohort:
    issued, expired, redeemed = c.get("issued", 0), c.get("expired", 0), c.get("spent", 0)
    outstanding = c.get("pending", 0) + c.get("available", 0)
    if closed:
        estimate = expired
        recognised = expired
    else:
        estimate = _units(Decimal(issued) * expected) if expected is not None else 0
        # Proportional method: of the breakage expected, recognise the share that the
        # redemptions so far are of all the redemptions expected (issued less breakage).
        redeemable = issued - estimate
        share = min(Decimal(1), Decimal(redeemed) / redeemable) if redeemable > 0 else Decimal(0)
        recognised = max(expired, _units(estimate * share)) if estimate else expired
    return Cohort(
        month=month,
        issued=issued,
        redeemed=redeemed,
        expired=expired,
        clawed_back=c.get("clawed_back", 0) + c.get("netted", 0),
        outstanding=outstanding,
        held=c.get("held", 0),
        voided=c.get("voided", 0),
        breakage_rate=_text(_rate(expired, issued)),
        redemption_rate=_text(_rate(redeemed, issued)),
        closed=closed,
        expected_breakage=estimate,
        recognised_breakage=recognised,
    )
