"""How the experiments of a program and its running campaigns change one evaluation: the
customer's variant in each, the extra rates it adds, the campaigns its holdouts drop.

A program's holdout earns nothing from the program: its evaluation keeps the lines and
dates but no rule, cut or missed campaign (`recorded`), so nothing is credited, no budget
is charged and the customer reads no offer they were kept out of. A campaign's holdout
does without that campaign (nor is told to spend more to get it). Other variants add
their extra rate to every line (the program's) or to the campaign's own rate (a
campaign's: the campaign's money, so its budget pays for it too). Campaign experiments are
recorded for every campaign running for the purchase (its window and channel), whether or
not the order reached its minimum, so a report sees everyone the campaign was offered to.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import NamedTuple

from cashback.domain.rules.evaluation import Evaluation, LineResult, Missed
from cashback.domain.rules.experiments import Assignment, assign
from cashback.domain.rules.plan import CampaignRule, Compiled, Head

ZERO = Decimal(0)


class Trial(NamedTuple):
    """What the experiments leave of an order's situation, and the variants they gave it."""

    held_out: bool  # the program's holdout: the purchase earns nothing from the program
    active: list[CampaignRule]
    missed: list[Missed]
    extras: list[Head]
    assigned: tuple[Assignment, ...]


def run(
    compiled: Compiled,
    customer: tuple[str, str] | None,
    active: list[CampaignRule],
    missed: list[Missed],
    extras: list[Head],
) -> Trial:
    """Assign the customer ((tenant, customer id); None: experiments do not apply) in the
    program's experiment, then in those of the running campaigns, in stacking order."""
    rules = compiled.rules
    if customer is None:
        return Trial(False, active, missed, extras, ())
    tenant, customer_id = customer
    assigned: list[Assignment] = []
    if rules.experiment is not None:
        variant = assign(rules.experiment, tenant, customer_id)
        holdout = variant.name == rules.experiment.holdout
        assigned.append(Assignment(rules.experiment.id, variant.name, holdout))
        if holdout:
            return Trial(True, [], [], extras, tuple(assigned))
        if variant.extra_rate:
            extras = [
                *extras,
                ("experiment", rules.experiment.id, variant.name, variant.extra_rate),
            ]
    running = {c.campaign.id for c in active} | {m.campaign for m in missed}
    dropped: set[str] = set()
    boosted: dict[str, Decimal] = {}
    for c in compiled.campaigns:
        experiment = c.campaign.experiment
        if experiment is None or c.campaign.id not in running:
            continue
        variant = assign(experiment, tenant, customer_id)
        holdout = variant.name == experiment.holdout
        assigned.append(Assignment(experiment.id, variant.name, holdout, c.campaign.id))
        if holdout:
            dropped.add(c.campaign.id)
        elif variant.extra_rate:
            boosted[c.campaign.id] = variant.extra_rate
    return Trial(
        False,
        [_boosted(c, boosted.get(c.campaign.id)) for c in active if c.campaign.id not in dropped],
        [m for m in missed if m.campaign not in dropped],
        extras,
        tuple(assigned),
    )


def _boosted(c: CampaignRule, extra: Decimal | None) -> CampaignRule:
    """The campaign at its rate plus the variant's extra rate."""
    if not extra:
        return c
    kind, rule, name, rate = c.head
    return c._replace(head=(kind, rule, name, rate + extra))


def recorded(evaluation: Evaluation, trial: Trial) -> Evaluation:
    """The evaluation with the purchase's variants; for the program's holdout, emptied of
    every rule (the lines stay, rated nothing)."""
    if not trial.assigned:
        return evaluation
    if not trial.held_out:
        return replace(evaluation, experiments=trial.assigned)
    lines = tuple(
        LineResult(
            line.position, line.sku, line.category, line.amount, line.excluded, ZERO, ZERO, ()
        )
        for line in evaluation.lines
    )
    return replace(
        evaluation,
        cashback=0,
        gross=ZERO,
        rounding=ZERO,
        lines=lines,
        order_items=(),
        cuts=(),
        missed=(),
        tier=None,
        campaigns=(),
        budget_consumption={},
        experiments=trial.assigned,
    )


def held_out(evaluation: Evaluation) -> bool:
    """Whether the purchase was in its program's holdout (so earned nothing from it)."""
    return any(a.holdout and a.campaign is None for a in evaluation.experiments)
