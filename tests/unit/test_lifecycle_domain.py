"""ledger.advance: what the scheduled job does to one lot at one moment."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from cashback.domain.ledger import Account, accrue, advance, claw_back, verify_chain

T0 = datetime(2026, 1, 10, 15, 0, tzinfo=UTC)


def _bought(cashback: int = 500, reminder_days: int = 7):  # type: ignore[no-untyped-def]
    return accrue(
        Account("shop", "ana"),
        order_id="o1",
        cashback=cashback,
        occurred_at=T0,
        return_window=timedelta(days=30),
        expiry=timedelta(days=180),
        reminder=timedelta(days=reminder_days) if reminder_days else None,
    )


def test_nothing_happens_before_the_return_window_ends() -> None:
    bought = _bought()
    step = advance(bought.account, bought.lot, T0 + timedelta(days=30, seconds=-1))
    assert not step.changed and step.entries == () and step.lot == bought.lot


def test_ripens_at_the_end_of_the_return_window() -> None:
    bought = _bought()
    step = advance(bought.account, bought.lot, T0 + timedelta(days=30))
    assert (step.lot.status, step.lot.pending, step.lot.available) == ("AVAILABLE", 0, 500)
    assert (step.account["pending"], step.account["available"]) == (0, 500)
    assert [e.kind for e in step.entries] == ["ripen"]
    assert step.entries[0].occurred_at == "2026-02-09T15:00:00Z"  # when it was due
    assert [(n.kind, n.amount) for n in step.notices] == [("cashback.available", 500)]
    assert step.lot.due_at == "2026-07-02T15:00:00Z"  # next: the reminder, 7 days ahead


def test_advancing_twice_at_the_same_moment_changes_nothing() -> None:
    bought = _bought()
    first = advance(bought.account, bought.lot, T0 + timedelta(days=40))
    again = advance(first.account, first.lot, T0 + timedelta(days=40))
    assert not again.changed and again.notices == () and again.lot == first.lot


def test_reminds_once_seven_days_before_the_deadline() -> None:
    bought = _bought()
    ripe = advance(bought.account, bought.lot, T0 + timedelta(days=30))
    early = advance(ripe.account, ripe.lot, T0 + timedelta(days=173, seconds=-1))
    assert early.notices == ()
    reminded = advance(ripe.account, ripe.lot, T0 + timedelta(days=173))
    assert [(n.kind, n.amount, n.at) for n in reminded.notices] == [
        ("cashback.expiring", 500, "2026-07-09T15:00:00Z")
    ]
    assert reminded.entries == ()  # a reminder moves no money
    assert advance(reminded.account, reminded.lot, T0 + timedelta(days=175)).notices == ()


def test_expires_what_remains_at_the_deadline() -> None:
    bought = _bought()
    ripe = advance(bought.account, bought.lot, T0 + timedelta(days=30))
    refunded = claw_back(
        ripe.account,
        ripe.lot,
        refund_id="r1",
        order_id="o1",
        amount=200,
        occurred_at=T0 + timedelta(days=31),
    )
    assert refunded.lot is not None
    reminded = advance(refunded.account, refunded.lot, T0 + timedelta(days=173))
    expired = advance(reminded.account, reminded.lot, T0 + timedelta(days=180))
    assert (expired.lot.status, expired.lot.expired, expired.lot.clawed_back) == (
        "EXPIRED",
        300,
        200,
    )
    assert (expired.account["available"], expired.account["expired"]) == (0, 300)
    assert expired.account.conserved()
    assert expired.lot.due_at is None  # leaves the index
    chain = [*bought.entries, *ripe.entries, refunded.entry, *expired.entries]
    assert verify_chain(expired.account, chain) == []


def test_a_job_down_for_months_ripens_then_expires_without_a_stale_reminder() -> None:
    bought = _bought()
    step = advance(bought.account, bought.lot, T0 + timedelta(days=400))
    assert [e.kind for e in step.entries] == ["ripen", "expire"]
    assert [n.kind for n in step.notices] == ["cashback.available", "cashback.expired"]
    assert step.account["expired"] == 500 and step.account.conserved()


def test_fully_refunded_lot_is_never_ripened() -> None:
    bought = _bought()
    refunded = claw_back(
        bought.account,
        bought.lot,
        refund_id="r1",
        order_id="o1",
        amount=500,
        occurred_at=T0 + timedelta(days=1),
    )
    assert refunded.lot is not None and refunded.lot.due_at is None
    assert not advance(refunded.account, refunded.lot, T0 + timedelta(days=31)).changed


def test_reminder_never_comes_before_the_cashback_is_spendable() -> None:
    bought = accrue(
        Account("shop", "ana"),
        order_id="o1",
        cashback=100,
        occurred_at=T0,
        return_window=timedelta(days=30),
        expiry=timedelta(days=33),
        reminder=timedelta(days=7),
    )
    assert bought.lot is not None and bought.lot.remind_at == bought.lot.available_at


def test_no_reminders_when_the_storefront_turns_them_off() -> None:
    bought = _bought(reminder_days=0)
    ripe = advance(bought.account, bought.lot, T0 + timedelta(days=30))
    assert ripe.lot.due_at == ripe.lot.expires_at
    assert advance(ripe.account, ripe.lot, T0 + timedelta(days=175)).notices == ()


def test_lot_versions_move_only_when_something_changed() -> None:
    bought = _bought()
    assert bought.lot is not None
    step = advance(bought.account, bought.lot, T0 + timedelta(days=30))
    assert step.lot.version == bought.lot.version + 1
    same = advance(step.account, replace(step.lot), T0 + timedelta(days=30))
    assert same.lot.version == step.lot.version


def test_inactivity_deadline_follows_the_customers_latest_activity() -> None:
    bought = accrue(
        Account("shop", "ana"),
        order_id="o1",
        cashback=500,
        occurred_at=T0,
        available_at=T0 + timedelta(days=7),
        expires_at=T0 + timedelta(days=90),
        reminder=timedelta(days=7),
        inactivity=(90, "America/Sao_Paulo"),
    )
    assert bought.lot is not None
    ripe = advance(bought.account, bought.lot, T0 + timedelta(days=8))
    # The customer buys again 60 days later: every lot's deadline moves with it.
    active = replace(ripe.account, last_activity_at="2026-03-11T15:00:00Z")
    step = advance(active, ripe.lot, T0 + timedelta(days=90))
    assert step.entries == () and step.lot.status == "AVAILABLE"
    # 90 local days after 11 March end at midnight in Sao Paulo (UTC-3).
    assert step.lot.ends_at == "2026-06-10T03:00:00Z"
    assert step.lot.expires_at == bought.lot.expires_at  # the sort key never moves
    reminder = advance(active, step.lot, datetime(2026, 6, 3, 3, 0, tzinfo=UTC))
    assert [(n.kind, n.at) for n in reminder.notices] == [
        ("cashback.expiring", "2026-06-10T03:00:00Z")
    ]
    expired = advance(active, reminder.lot, datetime(2026, 6, 10, 3, 0, tzinfo=UTC))
    assert [e.kind for e in expired.entries] == ["expire"]
    assert expired.account["expired"] == 500
