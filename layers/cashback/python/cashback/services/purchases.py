"""Record a purchase and credit its cashback, exactly once.

Idempotency comes from the storefront's own ids and conditional writes: the order record
is written in the same transaction as the money, holding the first reply, so every retry
gets that reply and nothing moves twice. A concurrent writer on the same account makes the
transaction fail its sequence condition; we read again and retry.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from cashback.domain import ledger, lists
from cashback.domain.changes import AccountMoved, AlreadyRecorded, BudgetShort, PurchaseChange
from cashback.domain.clock import to_iso
from cashback.domain.errors import Contention, Unprocessable
from cashback.domain.lists import ListEntry
from cashback.domain.orders import NewPurchase, Order, PurchaseRecorded, Reply
from cashback.domain.risk.policy import RiskLists
from cashback.domain.rules import budget
from cashback.domain.rules.explain import customer_explanation
from cashback.domain.tenants import TenantSettings
from cashback.observability import logger
from cashback.services import growth, priority, risk_settings, screening
from cashback.services.earning import (
    Earning,
    Program,
    beyond_room,
    budget_takes,
    earn,
    order_lines,
    replan,
    with_activity,
)
from cashback.services.ports import PurchaseStore
from cashback.services.recording import MAX_ATTEMPTS, backoff, check_occurred_at, replay

if TYPE_CHECKING:
    # numpy: only the accrual function has it (ModelLayer); loaded by runtime.scorer().
    from cashback.domain.risk.scorer import Scorer

# The reply's JSON as the API shapes it (cashback.api.replies.purchase): stored on the
# order, so every retry gets the very same body.
Shape = Callable[[PurchaseRecorded], dict[str, Any]]


@dataclass
class _Attempt:
    """What one attempt knows: the budget it learned is short, the takes it planned."""

    budget_left: dict[str, int]
    planned: dict[str, budget.Plan]

    def replan(
        self, store: PurchaseStore, tenant: str, order_id: str, earning: Earning, short: BudgetShort
    ) -> None:
        replan(store, tenant, order_id, earning, short, self.budget_left, self.planned)


def _recorded(
    purchase: NewPurchase,
    currency: str,
    earning: Earning,
    accrual: ledger.Accrual,
    action: ledger.RiskAction,
    program: Program | None,
) -> PurchaseRecorded:
    """What the storefront hears: the status and the cashback, never the screening."""
    lot = accrual.lot if action == "allow" else None
    credited = lot.credited if lot else 0
    status = {"review": "held", "block": "blocked"}.get(
        action, "pending" if credited else "no_cashback"
    )
    if credited and lot is not None and lot.status == "AVAILABLE":
        status = "available"  # a return window of zero: spendable at once
    if action == "review" and not earning.cashback:
        status = "no_cashback"  # nothing to hold: no case for an analyst to decide
    return PurchaseRecorded(
        order_id=purchase.order_id,
        customer_id=purchase.customer_id,
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
    )


def _order(
    tenant: str,
    account: ledger.Account,
    purchase: NewPurchase,
    earning: Earning,
    body: dict[str, Any],
    screened: screening.Screening,
    program: Program | None,
) -> Order:
    rules = program[1] if program else None
    return Order(
        tenant=tenant,
        order_id=purchase.order_id,
        customer_id=purchase.customer_id,
        amount=purchase.amount,
        currency=purchase.currency,
        cashback=earning.cashback,
        refunded=0,
        lot_sk=None,  # the store points the order at its lot
        occurred_at=to_iso(purchase.occurred_at),
        request_hash=purchase.fingerprint(),
        reply=json.dumps(body),
        status_code=201,
        rules_version=program[0] if program else None,
        refund_policy=program[1].refund_policy if program else "record_debt",
        status=body["status"],
        risk=screened.record(),
        # A purchase that earns nothing has nothing to hold: screened and recorded, no case.
        case_status="open" if screened.action == "review" and earning.cashback else None,
        lines=order_lines(purchase, earning),
        categories=growth.categories(purchase),
        device_id=purchase.device_id,
        payment_fingerprint=purchase.payment_fingerprint,
        experiments=earning.experiments,
        customer_before=growth.snapshot(account, purchase, rules, screened.action),
    )


def _earning(
    purchase: NewPurchase,
    account: ledger.Account,
    settings: TenantSettings,
    program: Program | None,
    attempt: _Attempt,
) -> Earning:
    """What the purchase earns; budgeted campaigns its transaction has no room for are
    treated as spent."""
    earning = earn(purchase, account, settings, program, attempt.budget_left)
    beyond = beyond_room(program, earning, attempt.budget_left)
    if beyond:
        attempt.budget_left.update(dict.fromkeys(beyond, 0))
        earning = earn(purchase, account, settings, program, attempt.budget_left)
    return earning


def _accrue(
    purchase: NewPurchase,
    account: ledger.Account,
    settings: TenantSettings,
    earning: Earning,
    action: ledger.RiskAction,
) -> ledger.Accrual:
    breakdown = earning.breakdown
    return ledger.accrue(
        account,
        order_id=purchase.order_id,
        cashback=earning.cashback,
        occurred_at=purchase.occurred_at,
        available_at=earning.available_at,
        expires_at=earning.expires_at,
        never_expires=earning.expires_at is None,
        reminder=timedelta(days=settings.reminder_days) if settings.reminder_days else None,
        detail=json.dumps(breakdown, separators=(",", ":")) if breakdown else None,
        risk=action,
        inactivity=earning.inactivity,
        month=earning.evaluation.month if earning.evaluation else None,
    )


def _change(
    tenant: str,
    settings: TenantSettings,
    purchase: NewPurchase,
    account: ledger.Account,
    identities: dict[screening.Identity, dict[str, Any]],
    context: tuple[datetime, Program | None, Scorer | None, Shape],
    attempt: _Attempt,
    listed: RiskLists,
) -> tuple[PurchaseChange, Earning, dict[str, Any]]:
    """Earn, screen and accrue the purchase against the account as read: the change to
    commit, what it earned, and the reply's body."""
    now, program, scorer, shape = context
    earning = _earning(purchase, account, settings, program, attempt)
    screened = screening.screen(
        purchase,
        account,
        identities,
        earning.cashback,
        earning.available_at,
        settings,
        scorer,
        listed,
    )
    accrual = _accrue(purchase, account, settings, earning, screened.action)
    currency = program[1].currency if program else settings.currency
    body = shape(_recorded(purchase, currency, earning, accrual, screened.action, program))
    after = replace(
        with_activity(accrual.account, purchase, earning, program, screened.action),
        risk=screened.aggregates,
    )
    takes = (
        ()
        if screened.action == "block"
        else budget_takes(purchase.order_id, program, earning, attempt.planned)
    )
    change = PurchaseChange(
        _order(tenant, account, purchase, earning, body, screened, program),
        accrual.lot,
        accrual.entries,
        account,
        after,
        now=to_iso(now),
        budget_takes=takes,
        identities=screened.identities,
        notices=accrual.notices
        + growth.notices(tenant, purchase, earning.milestones, earning.evaluation, screened.action),
    )
    return change, earning, body


def _check(
    purchase: NewPurchase, currency: str, now: datetime, settings: TenantSettings, backdate: int
) -> None:
    """The purchase is in the program's currency and within its back-dating window."""
    if purchase.currency != currency:
        raise Unprocessable(
            f"this program runs in {currency}, not {purchase.currency}",
            code="currency_mismatch",
        )
    check_occurred_at(purchase.occurred_at, now, settings, backdate)


def _note_stats(
    store: PurchaseStore,
    tenant: str,
    settings: TenantSettings,
    change: PurchaseChange,
    now: datetime,
    scorer: Scorer | None,
) -> None:
    """The committed purchase into the storefront's risk statistics. The money is
    committed: a failure here costs one purchase's counts, so it is logged, not raised."""
    metadata = scorer.metadata if scorer is not None else None
    try:
        risk_settings.after_purchase(store, tenant, settings, change.order, now, metadata)
    except Exception:  # noqa: BLE001 - the purchase stands; only a statistic is lost
        logger.exception("risk statistics not updated", extra={"order_id": change.order.order_id})


def _read(
    store: PurchaseStore, tenant: str, purchase: NewPurchase
) -> tuple[Order | None, ledger.Account, dict[screening.Identity, dict[str, Any]], list[ListEntry]]:
    """In one read: the order's record, the account, and the storefront's list entries for
    the purchase's customer, device and payment fingerprint (so a list change applies to
    the very next purchase); then the customers seen on its device and fingerprint."""
    subjects = lists.purchase_subjects(
        purchase.customer_id, purchase.device_id, purchase.payment_fingerprint
    )
    return store.load_purchase(
        tenant,
        purchase.order_id,
        purchase.customer_id,
        screening.identities_of(purchase),
        subjects,
    )


def record_purchase(
    store: PurchaseStore,
    tenant: str,
    settings: TenantSettings,
    purchase: NewPurchase,
    now: datetime,
    program: Program | None = None,
    scorer: Scorer | None = None,
    *,
    shape: Shape,
) -> Reply:
    """Record a purchase and credit its cashback, exactly once.

    `program` is the rule-set version in force at occurred_at (None: the flat rate). A
    campaign budget is taken in the same transaction, shard by shard, each on the
    condition that the shard still holds it; when a shard runs short we read the shards,
    spread the take over them, or, when all of them together hold too little, evaluate
    again with what is left, so the rules cut the campaign's part.

    Before anything is credited the purchase is screened (`scorer`: the refund-abuse
    model, None for lists and rules only): allowed cashback is pending, reviewed cashback
    is held for an analyst, blocked cashback is not credited. The reply says only which;
    `shape` gives it the API's form."""
    currency = program[1].currency if program else settings.currency
    backdate = program[1].lifecycle.backdate_days if program else settings.backdate_days
    attempt = _Attempt(budget_left={}, planned={})
    for tries in range(MAX_ATTEMPTS):
        order, account, identities, entries = _read(store, tenant, purchase)
        if order is not None:
            hashed = purchase.fingerprint()
            return replay(order.request_hash, order.reply, order.status_code, hashed, "order_id")
        _check(purchase, currency, now, settings, backdate)
        context = (now, program, scorer, shape)
        listed = lists.risk_lists(entries, now)
        change, earning, body = _change(
            tenant, settings, purchase, account, identities, context, attempt, listed
        )
        try:
            store.commit_purchase(change)
        except BudgetShort as short:
            attempt.replan(store, tenant, purchase.order_id, earning, short)
            continue
        except (AlreadyRecorded, AccountMoved):
            logger.debug("purchase raced another writer", extra={"attempt": tries})
            backoff(tries)
            continue
        _note_stats(store, tenant, settings, change, now, scorer)
        priority.follow(store, change)
        return Reply(201, body)
    raise Contention("too many concurrent writes to this customer; retry the request")
