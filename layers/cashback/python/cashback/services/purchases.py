"""Purchases and refunds: compute cashback, credit it, claw it back; exactly once.

Idempotency comes from the storefront's own ids and conditional writes: the order (or
refund) record is written in the same transaction as the money, holding the first reply,
so every retry gets that reply and nothing moves twice. A concurrent writer on the same
account makes the transaction fail its sequence condition; we read again and retry.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from itertools import islice
from typing import TYPE_CHECKING, Any

from cashback.api.payloads import PurchaseReply, PurchaseRequest, RefundReply, RefundRequest
from cashback.domain import ledger
from cashback.domain.changes import (
    BUDGET_ITEMS,
    REFUND_BALANCE_LOTS,
    AccountMoved,
    AlreadyRecorded,
    BudgetShort,
    PurchaseChange,
    RefundChange,
)
from cashback.domain.clock import to_iso
from cashback.domain.errors import Conflict, Contention, NotFound, Unprocessable
from cashback.domain.orders import Order, Refund, request_hash
from cashback.domain.rules import budget, deadlines, ruleset
from cashback.domain.rules.engine import Birthday, Context, evaluate
from cashback.domain.rules.evaluation import Evaluation
from cashback.domain.rules.explain import customer_explanation
from cashback.domain.rules.lines import allocate, line_cashback
from cashback.domain.rules.ruleset import RuleSet
from cashback.domain.tenants import TenantSettings
from cashback.observability import logger
from cashback.services import screening
from cashback.services.ports import PurchaseStore, RefundStore
from cashback.services.programs import BUDGET_SHARDS

if TYPE_CHECKING:
    # numpy: only the accrual function has it (ModelLayer); loaded by runtime.scorer().
    from cashback.domain.risk.scorer import Scorer

MAX_ATTEMPTS = 10


@dataclass(frozen=True)
class Reply:
    status_code: int
    body: dict[str, Any]
    replayed: bool = False


def _replay(
    stored_hash: str, stored_reply: str, status_code: int, fingerprint: str, id_name: str
) -> Reply:
    if stored_hash != fingerprint:
        raise Conflict(f"this {id_name} was already used with a different request body")
    return Reply(status_code, json.loads(stored_reply), replayed=True)


def _backoff(attempt: int) -> None:
    # Full jitter: concurrent writers on one account spread out instead of colliding again.
    time.sleep(random.uniform(0, min(0.2, 0.005 * 2**attempt)))


def check_occurred_at(
    occurred_at: datetime, now: datetime, settings: TenantSettings, backdate_days: int | None = None
) -> None:
    """occurred_at may be a little ahead (clock skew) and back as far as the back-dating
    window: the program's when it sets one (`backdate_days`), else the storefront's."""
    backdate = settings.backdate_days if backdate_days is None else backdate_days
    if occurred_at > now + timedelta(seconds=settings.future_skew_seconds):
        raise Unprocessable(
            f"occurred_at {to_iso(occurred_at)} is in the future", code="occurred_at_in_future"
        )
    if occurred_at < now - timedelta(days=backdate):
        raise Unprocessable(
            f"occurred_at {to_iso(occurred_at)} is more than {backdate} days in the past",
            code="occurred_at_too_old",
        )


def fingerprint(request: PurchaseRequest | RefundRequest) -> str:
    """What makes two requests the same: their content, with occurred_at as the instant it
    names (a retry may spell the same moment in another time zone)."""
    return request_hash(
        {**request.model_dump(mode="json"), "occurred_at": to_iso(request.occurred_at)}
    )


Program = tuple[int, RuleSet]  # (version, rules) in force at the purchase


@dataclass(frozen=True)
class Earning:
    """What a purchase earns and when: from the rules in force, or the flat rate."""

    cashback: int
    available_at: datetime
    expires_at: datetime | None
    unit: str = "money"
    evaluation: Evaluation | None = None

    @property
    def inactivity(self) -> tuple[int, str] | None:
        """(days, time zone) when the lot expires after the customer's inactivity."""
        expiry = self.evaluation.expiry if self.evaluation else None
        if expiry is None or expiry.kind != "inactivity":
            return None
        assert self.evaluation is not None
        return expiry.days, self.evaluation.time_zone  # type: ignore[union-attr]

    @property
    def breakdown(self) -> dict[str, Any] | None:
        return self.evaluation.to_json() if self.evaluation else None


def _earn(
    request: PurchaseRequest,
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
    )
    evaluation = evaluate(rules, request, context, version=version)
    return Earning(
        evaluation.cashback,
        evaluation.available_at,
        evaluation.expires_at,
        evaluation.unit,
        evaluation,
    )


def _with_activity(
    account: ledger.Account,
    request: PurchaseRequest,
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
    return replace(account, spend_days=spend, earned_months=months, last_activity_at=activity)


def _budgeted(program: Program | None) -> set[str]:
    return {c.id for c in program[1].campaigns if c.budget} if program else set()


def _beyond_room(
    program: Program | None, earning: Earning, budget_left: dict[str, int]
) -> list[str]:
    """Budgeted campaigns the purchase's transaction cannot also carry: past the first
    BUDGET_ITEMS that may still take (stacking order). Publishing refuses a version where
    this can happen; one stored before that limit gets them treated as spent."""
    if earning.evaluation is None:
        return []
    budgeted = _budgeted(program)
    live = [c for c in earning.evaluation.campaigns if c in budgeted and budget_left.get(c) != 0]
    return live[BUDGET_ITEMS:]


def _max_takes(earning: Earning) -> int:
    """How many shards each budget take may write, so all of them fit the transaction."""
    drawn = len(earning.evaluation.budget_consumption) if earning.evaluation else 0
    return max(1, BUDGET_ITEMS // max(drawn, 1))


def _budget_takes(
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


def _order_lines(request: PurchaseRequest, earning: Earning) -> dict[str, list[int]]:
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


def _named_lines(request: RefundRequest, order: Order) -> dict[str, int] | None:
    """The amount the refund gives back per SKU, checked against the order's lines: an
    unknown SKU, or more than a line has left, is a 422 and nothing changes. None when the
    refund names no line (or the order predates lines: then in proportion)."""
    if request.lines is None or order.lines is None:
        return None
    named: dict[str, int] = {}
    for i, line in enumerate(request.lines):
        if line.sku not in order.lines:
            raise Unprocessable(
                f"order {order.order_id} has no line with SKU {line.sku!r}",
                code="refund_line_unknown",
                details=[{"field": f"lines.{i}.sku", "problem": "unknown SKU"}],
            )
        named[line.sku] = named.get(line.sku, 0) + line.amount
        amount, _, refunded = order.lines[line.sku]
        if refunded + named[line.sku] > amount:
            raise Unprocessable(
                f"refund of {named[line.sku]} for SKU {line.sku!r} exceeds what is left of "
                f"that line ({amount - refunded}) in order {order.order_id}",
                code="refund_exceeds_line",
                details=[{"field": f"lines.{i}.amount", "problem": "more than the line has left"}],
            )
    return named


def _purchase_reply(
    request: PurchaseRequest,
    currency: str,
    earning: Earning,
    accrual: ledger.Accrual,
    action: ledger.RiskAction,
    program: Program | None,
) -> dict[str, Any]:
    """What the storefront hears: the status and the cashback, never the screening."""
    lot = accrual.lot if action == "allow" else None
    credited = lot.credited if lot else 0
    status = {"review": "held", "block": "blocked"}.get(
        action, "pending" if credited else "no_cashback"
    )
    return PurchaseReply(
        order_id=request.order_id,
        customer_id=request.customer_id,
        status=status,
        currency=currency,
        unit=earning.unit,
        cashback=earning.cashback,
        debt_repaid=lot.netted if lot else 0,
        credited=credited,
        available_at=lot.available_at if credited and lot else None,
        expires_at=lot.expires_at if credited and lot and lot.expires_at != ledger.NEVER else None,
        rules_version=program[0] if program else None,
        breakdown=earning.breakdown,
        explanation=customer_explanation(earning.evaluation) if earning.evaluation else [],
    ).model_dump(mode="json")


def _replan(
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


def record_purchase(
    store: PurchaseStore,
    tenant: str,
    settings: TenantSettings,
    request: PurchaseRequest,
    now: datetime,
    program: Program | None = None,
    scorer: Scorer | None = None,
) -> Reply:
    """Record a purchase and credit its cashback, exactly once.

    `program` is the rule-set version in force at occurred_at (None: the flat rate). A
    campaign budget is taken in the same transaction, shard by shard, each on the
    condition that the shard still holds it; when a shard runs short we read the shards,
    spread the take over them, or, when all of them together hold too little, evaluate
    again with what is left, so the rules cut the campaign's part.

    Before anything is credited the purchase is screened (`scorer`: the refund-abuse
    model, None for lists and rules only): allowed cashback is pending, reviewed cashback
    is held for an analyst, blocked cashback is not credited. The reply says only which."""
    request_fingerprint = fingerprint(request)
    currency = program[1].currency if program else settings.currency
    backdate = program[1].lifecycle.backdate_days if program else settings.backdate_days
    budget_left: dict[str, int] = {}
    planned: dict[str, budget.Plan] = {}
    for attempt in range(MAX_ATTEMPTS):
        order, account, identities = store.load_purchase(
            tenant, request.order_id, request.customer_id, screening.identities_of(request)
        )
        if order is not None:
            return _replay(
                order.request_hash, order.reply, order.status_code, request_fingerprint, "order_id"
            )
        if request.currency != currency:
            raise Unprocessable(
                f"this program runs in {currency}, not {request.currency}", code="currency_mismatch"
            )
        check_occurred_at(request.occurred_at, now, settings, backdate)

        earning = _earn(request, account, settings, program, budget_left)
        beyond = _beyond_room(program, earning, budget_left)
        if beyond:
            budget_left.update(dict.fromkeys(beyond, 0))
            earning = _earn(request, account, settings, program, budget_left)
        breakdown = earning.breakdown
        screened = screening.screen(
            request, account, identities, earning.cashback, earning.available_at, settings, scorer
        )
        accrual = ledger.accrue(
            account,
            order_id=request.order_id,
            cashback=earning.cashback,
            occurred_at=request.occurred_at,
            available_at=earning.available_at,
            expires_at=earning.expires_at,
            never_expires=earning.expires_at is None,
            reminder=timedelta(days=settings.reminder_days) if settings.reminder_days else None,
            detail=json.dumps(breakdown, separators=(",", ":")) if breakdown else None,
            risk=screened.action,
            inactivity=earning.inactivity,
            month=earning.evaluation.month if earning.evaluation else None,
        )
        lot = accrual.lot
        body = _purchase_reply(request, currency, earning, accrual, screened.action, program)
        record = Order(
            tenant=tenant,
            order_id=request.order_id,
            customer_id=request.customer_id,
            amount=request.amount,
            currency=request.currency,
            cashback=earning.cashback,
            refunded=0,
            lot_sk=None,  # the store points the order at its lot
            occurred_at=to_iso(request.occurred_at),
            request_hash=request_fingerprint,
            reply=json.dumps(body),
            status_code=201,
            rules_version=program[0] if program else None,
            refund_policy=program[1].refund_policy if program else "record_debt",
            status=body["status"],
            risk=screened.record(),
            case_status="open" if screened.action == "review" else None,
            lines=_order_lines(request, earning),
        )
        after = replace(
            _with_activity(accrual.account, request, earning, program, screened.action),
            risk=screened.aggregates,
        )
        takes = (
            ()
            if screened.action == "block"
            else _budget_takes(request.order_id, program, earning, planned)
        )
        try:
            store.commit_purchase(
                PurchaseChange(
                    record,
                    lot,
                    accrual.entry,
                    account,
                    after,
                    now=to_iso(now),
                    budget_takes=takes,
                    identities=screened.identities,
                )
            )
        except BudgetShort as short:
            _replan(store, tenant, request.order_id, earning, short, budget_left, planned)
            continue
        except (AlreadyRecorded, AccountMoved):
            logger.debug("purchase raced another writer", extra={"attempt": attempt})
            _backoff(attempt)
            continue
        return Reply(201, body)
    raise Contention("too many concurrent writes to this customer; retry the request")


def record_refund(
    store: RefundStore, tenant: str, settings: TenantSettings, request: RefundRequest, now: datetime
) -> Reply:
    request_fingerprint = fingerprint(request)
    for attempt in range(MAX_ATTEMPTS):
        refund, order = store.load_refund(tenant, request.refund_id, request.order_id)
        if refund is not None:
            return _replay(
                refund.request_hash,
                refund.reply,
                refund.status_code,
                request_fingerprint,
                "refund_id",
            )
        if order is None:
            raise NotFound(f"no purchase with order_id {request.order_id}", code="order_not_found")
        check_occurred_at(request.occurred_at, now, settings)
        if to_iso(request.occurred_at) < order.occurred_at:
            raise Unprocessable(
                "a refund cannot occur before its purchase", code="refund_before_purchase"
            )
        left = order.amount - order.refunded
        if request.amount > left:
            raise Unprocessable(
                f"refund of {request.amount} exceeds what is left to refund ({left}) "
                f"of order {order.order_id}",
                code="refund_exceeds_order",
            )

        named = _named_lines(request, order)

        lot, account = store.load_lot_and_account(order)
        lines = {sku: (line[0], line[1], line[2]) for sku, line in (order.lines or {}).items()}
        amount, lines_after = ledger.refund_clawback(
            order.cashback, order.amount, lines, order.refunded, request.amount, named
        )
        if order.status == "blocked":  # never credited: nothing to take back
            amount = 0
        policy = order.refund_policy
        balance_lots: tuple[ledger.Lot, ...] = ()
        if policy == "claw_back_within_balance" and ledger.chargeable(lot, amount):
            # Earliest deadline first, as many as the refund's transaction can carry.
            balance_lots = tuple(
                islice(
                    (
                        other
                        for other in store.lots(tenant, order.customer_id)
                        if other.status == "AVAILABLE" and other.available
                    ),
                    REFUND_BALANCE_LOTS,
                )
            )
        clawback = ledger.claw_back(
            account,
            lot,
            refund_id=request.refund_id,
            order_id=order.order_id,
            amount=amount,
            occurred_at=request.occurred_at,
            policy=policy,  # type: ignore[arg-type]
            balance_lots=balance_lots,
        )
        body = RefundReply(
            refund_id=request.refund_id,
            order_id=order.order_id,
            customer_id=order.customer_id,
            amount=request.amount,
            currency=order.currency,
            clawed_back=amount,
            from_pending=clawback.taken_pending,
            from_available=clawback.taken_available,
            from_held=clawback.taken_held,
            from_balance=clawback.from_balance,
            debt=clawback.debt,
            forgiven=amount
            - clawback.taken_pending
            - clawback.taken_available
            - clawback.taken_held
            - clawback.from_balance
            - clawback.debt,
            order_refunded=order.refunded + request.amount,
        ).model_dump(mode="json")
        record = Refund(
            tenant=tenant,
            refund_id=request.refund_id,
            order_id=order.order_id,
            request_hash=request_fingerprint,
            reply=json.dumps(body),
            status_code=201,
        )
        try:
            refunded = order.refunded + request.amount
            # A case waiting for an analyst closes once nothing is left to decide on.
            closes = order.case_status == "open" and (
                refunded == order.amount
                or (clawback.lot is not None and clawback.lot.status == "CLAWED_BACK")
            )
            after = replace(
                _less_spend(clawback.account, order, request.amount),
                risk=screening.after_refund(
                    clawback.account,
                    order.order_id,
                    request.amount,
                    request.occurred_at,
                    amount,
                    clawback.used,
                ),
            )
            store.commit_refund(
                RefundChange(
                    record,
                    replace(
                        order,
                        refunded=refunded,
                        case_status="closed" if closes else order.case_status,
                        lines={sku: list(line) for sku, line in lines_after.items()}
                        if order.lines is not None
                        else None,
                    ),
                    order.refunded,
                    lot,
                    clawback.lot,
                    clawback.entry,
                    account,
                    after,
                    now=to_iso(now),
                    other_lots=clawback.other_lots,
                )
            )
        except (AlreadyRecorded, AccountMoved):
            logger.debug("refund raced another writer", extra={"attempt": attempt})
            _backoff(attempt)
            continue
        return Reply(201, body)
    raise Contention("too many concurrent writes to this order; retry the request")


def _less_spend(account: ledger.Account, order: Order, refunded: int) -> ledger.Account:
    """A refund lowers the spend that tiers see, on the day of the purchase it refunds."""
    day = order.occurred_at[:10]
    if day not in account.spend_days:
        return account
    spend = {**account.spend_days, day: max(0, account.spend_days[day] - refunded)}
    return replace(account, spend_days=spend)
