"""Spend cashback at checkout, exactly once: at once (captured) or held until the order is
paid (reserved), earliest deadline first; capture, cancel and let holds expire; give back
what returned goods had been paid with.

Each step is one transaction of the record, the lots, the entry and the account (on the
condition each is still as read), so concurrent redemptions of one customer can never
spend more than there is: the loser reads again and finds less. A redemption that failed
for want of balance is recorded as failed, so a late retry never spends by surprise.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from cashback.domain import ledger
from cashback.domain.changes import REDEMPTION_LOTS, AccountMoved, AlreadyRecorded, RedemptionChange
from cashback.domain.clock import to_iso
from cashback.domain.errors import Contention, Unprocessable
from cashback.domain.orders import Reply
from cashback.domain.redemptions import (
    NewRedemption,
    NewReversal,
    Redemption,
    RedemptionView,
    Reversal,
    draws_list,
)
from cashback.domain.rules.checkout import redeemable, worth
from cashback.domain.rules.ruleset import RuleSet
from cashback.domain.tenants import TenantSettings
from cashback.observability import logger
from cashback.services import screening
from cashback.services.holds import found, raise_failed, release_expired_holds
from cashback.services.ports import RedemptionStore
from cashback.services.recording import MAX_ATTEMPTS, backoff, check_occurred_at, replay

Shape = Callable[[RedemptionView], dict[str, Any]]


def unit_and_value(rules: RuleSet | None, amount: int) -> tuple[str, int]:
    if rules is None or rules.points is None:
        return "money", amount
    return "points", worth(rules, amount)


def _check_share(request: NewRedemption, rules: RuleSet | None) -> None:
    """The program may bound the share of an order that cashback pays."""
    if rules is None or rules.lifecycle.max_redeem_share >= 1:
        return
    if request.order_amount is None:
        raise Unprocessable(
            "this program limits the share of an order cashback may pay: send order_amount",
            code="order_amount_required",
            details=[{"field": "order_amount", "problem": "required by this program"}],
        )
    most = redeemable(rules, request.order_amount, request.amount).units
    if request.amount > most:
        share = rules.lifecycle.max_redeem_share
        raise Unprocessable(
            f"cashback may pay at most {share} of an order: {most} of this one",
            code="redeem_share_exceeded",
            details={"max_redeem_share": str(share), "most": most},
        )


def _fail(
    store: RedemptionStore,
    tenant: str,
    request: NewRedemption,
    code: str,
    message: str,
    details: Any,
) -> Reply:
    """Record the redemption as failed, for good: every retry gets this answer."""
    body = {"code": code, "message": message, "details": details}
    store.record_failed_redemption(_record(tenant, request, "failed", 422, body))
    return Reply(422, body)


def _record(
    tenant: str, request: NewRedemption, status: str, code: int, body: dict[str, Any]
) -> Redemption:
    return Redemption(
        tenant=tenant,
        redemption_id=request.redemption_id,
        customer_id=request.customer_id,
        order_id=request.order_id,
        channel=request.channel,
        amount=request.amount,
        status=status,  # type: ignore[arg-type]
        occurred_at=to_iso(request.occurred_at),
        request_hash=request.fingerprint(),
        reply=json.dumps(body),
        status_code=code,
    )


def redeem(
    store: RedemptionStore,
    tenant: str,
    settings: TenantSettings,
    rules: RuleSet | None,
    request: NewRedemption,
    now: datetime,
    *,
    shape: Shape,
) -> Reply:
    """Spend (or hold) `request.amount` of the customer's cashback, exactly once."""
    check_occurred_at(request.occurred_at, now, settings)
    _check_share(request, rules)
    unit, value = unit_and_value(rules, request.amount)
    for attempt in range(MAX_ATTEMPTS):
        found, account = store.load_redemption(tenant, request.redemption_id, request.customer_id)
        if found is not None:
            return replay(
                found.request_hash,
                found.reply,
                found.status_code,
                request.fingerprint(),
                "redemption_id",
            )
        if release_expired_holds(store, account, now):
            continue  # their cashback is spendable again: read the account anew
        try:
            reply = _spend(store, tenant, settings, request, account, now, shape, unit, value)
        except (AlreadyRecorded, AccountMoved):
            logger.debug("redemption raced another writer", extra={"attempt": attempt})
            backoff(attempt)
            continue
        return reply
    raise Contention("too many concurrent writes to this customer; retry the request")


def _spend(
    store: RedemptionStore,
    tenant: str,
    settings: TenantSettings,
    request: NewRedemption,
    account: ledger.Account,
    now: datetime,
    shape: Shape,
    unit: str,
    value: int,
) -> Reply:
    have = ledger.spendable(account)
    if request.amount > have:
        return _fail(
            store,
            tenant,
            request,
            "insufficient_balance",
            f"{request.amount} asked, {have} available",
            {"available": have, "asked": request.amount},
        )
    hold = not request.capture
    try:
        moved = ledger.draw(
            account,
            store.live_lots(tenant, request.customer_id),
            request.amount,
            into="reserved" if hold else "spent",
            kind="hold" if hold else "redeem",
            ref=request.redemption_id,
            order_id=request.order_id,
            occurred_at=to_iso(request.occurred_at),
            max_lots=REDEMPTION_LOTS,
        )
    except ledger.NotEnough as short:
        if not short.limited:
            raise AccountMoved() from short  # the lots moved since the account was read
        # The balance is there, but spread over more purchases than one transaction holds.
        return _fail(
            store,
            tenant,
            request,
            "too_many_lots",
            f"{request.amount} would draw on more than {REDEMPTION_LOTS} purchases' cashback; "
            f"at most {short.spendable} can be redeemed at once",
            {"most": short.spendable},
        )
    return _commit_spend(store, settings, request, account, moved, now, shape, (unit, value))


def _commit_spend(
    store: RedemptionStore,
    settings: TenantSettings,
    request: NewRedemption,
    account: ledger.Account,
    moved: ledger.Movement,
    now: datetime,
    shape: Shape,
    worth_of: tuple[str, int],
) -> Reply:
    """Write the draw with the redemption's record (an open hold also on the account, so
    the customer's next redemption sees when it expires)."""
    hold = not request.capture
    expires = to_iso(now + timedelta(minutes=settings.hold_minutes)) if hold else None
    after = moved.account
    if hold:
        assert expires is not None
        after = replace(after, holds={**after.holds, request.redemption_id: expires})
    after = replace(after, last_activity_at=max(after.last_activity_at, moved.entry.occurred_at))
    if not hold:  # spent: the risk aggregates note it (a hold is noted by nothing yet)
        after = replace(
            after, risk=screening.after_redemption(after, request.amount, request.occurred_at)
        )
    made = replace(
        _record(account.tenant, request, "reserved" if hold else "captured", 201, {}),
        captured=0 if hold else request.amount,
        hold_expires_at=expires,
        draws=draws_list(moved.draws),
    )
    body = shape(RedemptionView(made, after, settings.currency, *worth_of))
    made = replace(made, reply=json.dumps(body))
    store.commit_redemption(
        RedemptionChange(made, None, moved.lots, moved.entry, account, after, to_iso(now))
    )
    return Reply(201, body)


def reverse(
    store: RedemptionStore,
    tenant: str,
    settings: TenantSettings,
    redemption_id: str,
    request: NewReversal,
    now: datetime,
    *,
    shape: Shape,
    rules: RuleSet | None = None,
) -> Reply:
    """Goods paid with cashback came back: `request.amount` of what the redemption spent
    returns to the lots it came from, in proportion, with their deadlines (at least
    `returned_cashback_days` from the return where those have passed). Exactly once."""
    check_occurred_at(request.occurred_at, now, settings)
    for attempt in range(MAX_ATTEMPTS):
        recorded = store.load_reversal(tenant, request.reversal_id)
        if recorded is not None:
            return replay(
                recorded.request_hash,
                recorded.reply,
                recorded.status_code,
                request.fingerprint(redemption_id),
                "reversal_id",
            )
        redemption = found(store, tenant, redemption_id)
        if redemption.status == "failed":
            raise_failed(redemption)
        left = redemption.captured - redemption.reversed
        if request.amount > left:
            raise Unprocessable(
                f"reversal of {request.amount} exceeds what redemption {redemption_id} "
                f"spent and has not come back ({left})",
                code="reversal_exceeds_spent",
                details={"reversible": left},
            )
        try:
            return _reverse(store, settings, redemption, request, now, shape, rules)
        except (AlreadyRecorded, AccountMoved):
            logger.debug("reversal raced another writer", extra={"attempt": attempt})
            backoff(attempt)
    raise Contention("too many concurrent writes to this customer; retry the request")


def _reverse(
    store: RedemptionStore,
    settings: TenantSettings,
    redemption: Redemption,
    request: NewReversal,
    now: datetime,
    shape: Shape,
    rules: RuleSet | None,
) -> Reply:
    account, lots = store.load_drawn(redemption.tenant, redemption.customer_id, redemption.drawn)
    back = ledger.in_proportion(redemption.drawn, request.amount)
    occurred = to_iso(request.occurred_at)
    until = to_iso(request.occurred_at + timedelta(days=settings.returned_cashback_days))
    moved = ledger.give_back(
        account,
        ledger.to_lots(lots, back),
        out_of="spent",
        kind="reversal",
        ref=request.reversal_id,
        order_id=redemption.order_id,
        occurred_at=occurred,
        at_least_until=until,
    )
    after_record = replace(
        redemption,
        reversed=redemption.reversed + request.amount,
        draws=draws_list(ledger.less(redemption.drawn, back)),
        version=redemption.version + 1,
    )
    unit, value = unit_and_value(rules, after_record.amount)
    body = shape(RedemptionView(after_record, moved.account, settings.currency, unit, value))
    body["reversal"] = {
        "reversal_id": request.reversal_id,
        "amount": request.amount,
        "lots": [
            {"order_id": after.order_id, "amount": d.amount, "expires_at": after.ends_at}
            for d, (_, after) in zip(back, moved.lots, strict=True)
        ],
    }
    reversal = Reversal(
        tenant=redemption.tenant,
        reversal_id=request.reversal_id,
        redemption_id=redemption.redemption_id,
        request_hash=request.fingerprint(redemption.redemption_id),
        reply=json.dumps(body),
        status_code=201,
    )
    store.commit_redemption(
        RedemptionChange(
            after_record,
            redemption.version,
            moved.lots,
            moved.entry,
            account,
            moved.account,
            to_iso(now),
            reversal=reversal,
        )
    )
    return Reply(201, body)
