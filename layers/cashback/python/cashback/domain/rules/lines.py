"""What each line of a purchase earned: the order's cashback attributed to its lines.

A refund that names lines takes back what those lines earned (accrual.record_refund), so
the purchase records, per line, its whole share of the order's (rounded, cut) cashback:
- a line's weight is the value the rules gave it (its breakdown), with each campaign's
  budget cut taken off that campaign's part on the lines it rated, in proportion;
- the order's cashback (after the order-level cuts: caps, channel, threshold, the credit
  limit, and with the fixed bonuses) is split in proportion to those weights, each line
  rounded down and the units left given to the largest remainders (ties: the earlier
  line), so the shares add up to the cashback exactly;
- when no line has a weight (only a fixed bonus earned), in proportion to line amounts,
  excluded lines apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction

from cashback.domain.rules.evaluation import Evaluation

Weight = Decimal | Fraction | int


def allocate(total: int, weights: Sequence[Weight]) -> list[int]:
    """`total` split in proportion to `weights` (largest remainder, exact arithmetic):
    whole shares that add up to `total` exactly, each its exact share rounded down or up,
    zero for a zero weight."""
    exact_weights = [Fraction(weight) for weight in weights]
    if total < 0 or any(weight < 0 for weight in exact_weights):
        raise ValueError("cannot allocate a negative total or by a negative weight")
    whole = sum(exact_weights, Fraction(0))
    if not whole:
        if total:
            raise ValueError("a positive total needs a positive weight")
        return [0] * len(weights)
    exact = [total * weight / whole for weight in exact_weights]
    shares = [int(value) for value in exact]  # floor: no value is negative
    order = sorted(range(len(exact)), key=lambda i: (shares[i] - exact[i], i))
    for i in order[: total - sum(shares)]:
        shares[i] += 1
    return shares


def line_cashback(evaluation: Evaluation) -> list[int]:
    """Each purchase line's share of the evaluation's cashback, in the purchase's order."""
    if not evaluation.cashback:
        return [0] * len(evaluation.lines)
    parts: dict[str, Fraction] = {}
    for line in evaluation.lines:
        for item in line.items:
            if item.kind.startswith("campaign_"):
                parts[item.rule] = parts.get(item.rule, Fraction(0)) + Fraction(item.value)
    kept = {
        cut.rule: (parts[cut.rule] - Fraction(cut.amount)) / parts[cut.rule]
        for cut in evaluation.cuts
        if cut.kind == "budget" and cut.rule is not None and parts.get(cut.rule)
    }
    one = Fraction(1)
    weights: list[Fraction] = [
        sum(
            (
                Fraction(item.value)
                * (kept.get(item.rule, one) if item.kind.startswith("campaign_") else one)
                for item in line.items
            ),
            Fraction(0),
        )
        for line in evaluation.lines
    ]
    if not any(weights):  # only a fixed bonus earned: by amount, excluded lines apart
        weights = [Fraction(0 if line.excluded else line.amount) for line in evaluation.lines]
    if not any(weights):
        weights = [Fraction(line.amount) for line in evaluation.lines]
    return allocate(evaluation.cashback, weights)
