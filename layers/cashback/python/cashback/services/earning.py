"""What a purchase earns: under the flat rate or the program in force at occurred_at, what
the customer's activity keeps for tiers and monthly caps, and the campaign budget shards the
purchase takes (as many as its one transaction has room for)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from cashback.domain import ledger
from cashback.domain.changes import BUDGET_ITEMS, BudgetShort
from cashback.domain.clock import to_iso
from cashback.domain.ledger import progress
from cashback.domain.orders import NewPurchase
from cashback.domain.rules import budget, deadlines, ruleset
from cashback.domain.rules.engine import Birthday, Context, evaluate
from cashback.domain.rules.evaluation import Evaluation
from cashback.domain.rules.lines import allocate, line_cashback
from cashback.domain.rules.ruleset import RuleSet
from cashback.domain.tenants import TenantSettings
from cashback.services import growth
from cashback.services.ports import PurchaseStore
from cashback.services.programs import BUDGET_SHARDS

Program = tuple[int, RuleSet]  # (version, rules) in force at the purchase


@dataclass(frozen=True)
class Earning:
    """What a purchase earns and when: from the rules in force, or the flat rate."""

    cashback: int
    available_at: datetime
    expires_at: datetime | None
    unit: str = "money"
    evaluation: Evaluation | None = None
    milestones: tuple[str, ...] = ()  # the program's milestones the purchase reaches

    @property
    def inactivity(self) -> tuple[int, str] | None:
        """(days, time zone) when the lot expires after the customer's inactivity."""
        expiry = self.evaluation.expiry if self.evaluation else None
        if expiry is None or expiry.kind != "inactivity":
            return None
        assert self.evaluation is not None
        return expiry.days, self.evaluation.time_zone

    @property
    def breakdown(self) -> dict[str, Any] | None:
        return self.evaluation.to_json() if self.evaluation else None

    @property
    def experiments(self) -> list[dict[str, Any]] | None:
        """The purchase's variants, as its breakdown records them (None: no experiment)."""
        if self.evaluation is None or not self.evaluation.experiments:
            return None
        return [assignment.to_json() for assignment in self.evaluation.experiments]


def earn(
    request: NewPurchase,
    account: ledger.Account,
    settings: TenantSettings,
    program: Program | None,
    budget_left: dict[str, int],
) -> Earning:
    if program is None:
        return Earning(
            ledger.cashback_for(request.amount, settings.cashback_rate),
            request.occurred_at + timedelta(days=settings.return_window_days),
            request.occurred_at + timedelta(days=settings.expiry_days),
        )
    version, rules = program
    zone = ruleset.zone(rules.time_zone)
    window = rules.tiers.window_days if rules.tiers else 0
    since = to_iso(request.occurred_at - timedelta(days=window))[:10]
    context = Context(
        trailing_spend=sum(v for day, v in account.spend_days.items() if day > since),
        earned_this_month=account.earned_months.get(
            deadlines.month_key(request.occurred_at, zone), 0
        ),
        first_purchase=not account.exists,
        birthday=Birthday(*request.birthday_month_day) if request.birthday else None,
        budget_remaining=dict(budget_left),
        customer=(account.tenant, account.customer_id),
    )
    context = growth.with_progress(context, account, request, rules)
    evaluation = evaluate(rules, request, context, version=version)
    return Earning(
        evaluation.cashback,
        evaluation.available_at,
        evaluation.expires_at,
        evaluation.unit,
        evaluation,
        context.milestones,
    )


def with_activity(
    account: ledger.Account,
    request: NewPurchase,
    earning: Earning,
    program: Program | None,
    action: ledger.RiskAction,
) -> ledger.Account:
    """Keep what tiers and monthly caps read next time, trimmed to what they can need. A
    blocked purchase raises no tier. Credited cashback counts towards a monthly cap, and so
    does held cashback, from the moment it is held: an analyst's approval then never takes
    the month past its cap, whatever the order of holds and decisions; a rejection gives
    the room back (ledger.reject)."""
    window = program[1].tiers.window_days if program and program[1].tiers else 0
    keep_from = to_iso(request.occurred_at - timedelta(days=max(window, 31) + 31))[:10]
    day = to_iso(request.occurred_at)[:10]
    spend = {d: v for d, v in account.spend_days.items() if d >= keep_from}
    if action != "block":
        spend[day] = spend.get(day, 0) + request.amount
    months = dict(account.earned_months)
    if earning.evaluation is not None and action != "block":
        month = earning.evaluation.month
        months = {m: v for m, v in months.items() if m >= month[:4]}  # this year's only
        months[month] = months.get(month, 0) + earning.cashback
    activity = max(account.last_activity_at, to_iso(request.occurred_at))
    after = replace(account, spend_days=spend, earned_months=months, last_activity_at=activity)
    counted = growth.count(
        after, request, earning.milestones, program[1] if program else None, action
    )
    if action == "block":
        return counted
    experiments = tuple(dict.fromkeys(e["id"] for e in earning.experiments or ()))
    return progress.count_in_experiments(counted, experiments, request.amount)


def _budgeted(program: Program | None) -> set[str]:
    return {c.id for c in program[1].campaigns if c.budget} if program else set()


def beyond_room(
    program: Program | None, earning: Earning, budget_left: dict[str, int]
) -> list[str]:
    """Budgeted campaigns the purchase's transaction cannot also carry: past the first
    BUDGET_ITEMS that may still take (stacking order). Publishing refuses a version where
    this can happen; one stored before that limit gets them treated as spent."""
    if earning.evaluation is None:
        return []
    budgeted = _budgeted(program)
    live = [c for c in earning.evaluation.campaigns if c in budgeted and budget_left.get(c) != 0]
    return live[_budget_room(earning) :]


def _budget_room(earning: Earning) -> int:
    """Budget shards the purchase's transaction can carry: fewer by its milestone notice."""
    return BUDGET_ITEMS - (growth.NOTICE_ITEMS if earning.milestones else 0)


def _max_takes(earning: Earning) -> int:
    """How many shards each budget take may write, so all of them fit the transaction."""
    drawn = len(earning.evaluation.budget_consumption) if earning.evaluation else 0
    return max(1, _budget_room(earning) // max(drawn, 1))


def budget_takes(
    order_id: str, program: Program | None, earning: Earning, planned: dict[str, budget.Plan]
) -> tuple[tuple[str, int, int], ...]:
    if program is None or earning.evaluation is None:
        return ()
    budgeted = _budgeted(program)
    most = _max_takes(earning)
    takes: list[tuple[str, int, int]] = []
    for campaign, want in sorted(earning.evaluation.budget_consumption.items()):
        if not want or campaign not in budgeted:
            continue
        plan = planned.get(campaign)
        if plan is None or sum(t.amount for t in plan.takes) != want or len(plan.takes) > most:
            plan = budget.first_take(want, order_id, BUDGET_SHARDS)
        takes += [(campaign, take.shard, take.amount) for take in plan.takes]
    return tuple(takes)


def order_lines(request: NewPurchase, earning: Earning) -> dict[str, list[int]]:
    """What each line earned (rules.lines; the flat rate: in proportion to amounts), per
    SKU, for refunds that name lines: [amount, cashback, refunded]."""
    shares = (
        line_cashback(earning.evaluation)
        if earning.evaluation is not None
        else allocate(earning.cashback, [line.amount for line in request.lines])
    )
    lines: dict[str, list[int]] = {}
    for line, share in zip(request.lines, shares, strict=True):
        amount, cashback, _ = lines.get(line.sku, (0, 0, 0))
        lines[line.sku] = [amount + line.amount, cashback + share, 0]
    return lines


def replan(
    store: PurchaseStore,
    tenant: str,
    order_id: str,
    earning: Earning,
    short: BudgetShort,
    budget_left: dict[str, int],
    planned: dict[str, budget.Plan],
) -> None:
    """A budget shard ran short: spread the take over the shards (as many as the
    transaction has room for), or, when they hold too little, remember what they can
    give so the rules cut the campaign."""
    most = _max_takes(earning)
    for campaign in short.campaigns:
        want = earning.evaluation.budget_consumption[campaign] if earning.evaluation else 0
        remaining = store.budget_remaining(tenant, campaign)
        if not remaining:  # no shards (never opened): nothing to take from
            budget_left[campaign] = 0
            continue
        plan = budget.plan_take(
            want, remaining, budget.start_shard(order_id, len(remaining)), max_takes=most
        )
        if plan.short:
            budget_left[campaign] = sum(take.amount for take in plan.takes)
        else:
            planned[campaign] = plan
