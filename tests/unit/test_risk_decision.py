"""The decision: lists, readable rules, model thresholds, shadow mode, reasons in words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from cashback.domain.risk import (
    CustomerAggregates,
    IdentityAggregates,
    PurchaseFacts,
    RefundFacts,
    RiskLists,
    RulePolicy,
    SharedCounts,
    Thresholds,
    decide,
    note_identity,
    note_purchase,
    note_refund,
    shared_counts,
)
from cashback.domain.risk.decision import NO_MODEL
from cashback.domain.risk.scorer import Scorer
from models.refund_abuse.export import write_model
from models.refund_abuse.replay import replay
from models.refund_abuse.simulator import ABUSE_KINDS, SimulationConfig, Traffic, simulate
from models.refund_abuse.train import TrainConfig, train

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
NEVER = Thresholds(review=2.0, block=2.0)  # risk is at most 1: the model never holds
ALWAYS_REVIEW = Thresholds(review=0.0, block=2.0)


@pytest.fixture(scope="module")
def traffic() -> Traffic:
    return simulate(SimulationConfig.small(seed=5))


@pytest.fixture(scope="module")
def scorer(traffic: Traffic, tmp_path_factory: pytest.TempPathFactory) -> Scorer:
    trained = train(TrainConfig(seed=5, trees=40, max_samples=128), traffic)
    directory = tmp_path_factory.mktemp("model")
    write_model(directory, trained.arrays, trained.metadata)
    return Scorer.from_dir(directory)


def purchase(
    order_id: str = "new",
    at: datetime = T0,
    amount: int = 10_000,
    cashback: int = 500,
    device: str | None = "d1",
    payment: str | None = "p1",
) -> PurchaseFacts:
    return PurchaseFacts(
        order_id,
        "c1",
        amount,
        cashback,
        at,
        at + timedelta(days=14),
        device_id=device,
        payment_fingerprint=payment,
    )


def serial_refunder(now: datetime = T0) -> CustomerAggregates:
    """8 orders in the last 80 days; 7 refunded, 5 of them within 3 days."""
    aggregates = CustomerAggregates("c1")
    for i in range(8):
        at = now - timedelta(days=80 - 10 * i)
        aggregates = note_purchase(aggregates, purchase(f"o{i}", at))
        if i < 7:
            days = 1 if i < 5 else 6
            aggregates = note_refund(
                aggregates, RefundFacts(f"o{i}", 10_000, at + timedelta(days=days), 500)
            )
    return aggregates


def loyal_customer(now: datetime = T0) -> CustomerAggregates:
    aggregates = CustomerAggregates("c1")
    for i in range(12):
        aggregates = note_purchase(aggregates, purchase(f"o{i}", now - timedelta(days=7 * i)))
    return aggregates


def test_serial_refunds_rule_holds_with_the_history_in_words(scorer: Scorer) -> None:
    decision = decide(purchase(), serial_refunder(), SharedCounts(), T0, scorer, thresholds=NEVER)
    assert decision.action == "review"
    assert decision.rules_fired == ["serial_refunds"]
    assert decision.reasons[0] == "refunded 7 of the last 8 orders, 5 within 3 days"


def test_fresh_account_burst_fires_the_velocity_rule(scorer: Scorer) -> None:
    aggregates = CustomerAggregates("c1")
    for i in range(6):
        aggregates = note_purchase(aggregates, purchase(f"o{i}", T0 + timedelta(minutes=10 * i)))
    now = T0 + timedelta(hours=1)
    decision = decide(purchase(at=now), aggregates, SharedCounts(), now, scorer, thresholds=NEVER)
    assert (decision.action, decision.rules_fired) == ("review", ["fresh_account_velocity"])
    assert decision.reasons[0] == (
        "6 orders in the last 24 hours, 6 in 30 days on an account 1 hour old"
    )


def test_a_device_shared_by_a_ring_fires_the_identity_rule(scorer: Scorer) -> None:
    device = IdentityAggregates("device", "d1")
    for i in range(4):
        device = note_identity(device, f"ring{i}", T0)
    shared = shared_counts("c1", device, None)
    decision = decide(purchase(), CustomerAggregates("c1"), shared, T0, scorer, thresholds=NEVER)
    assert decision.rules_fired == ["shared_identity_ring"]
    assert decision.reasons[0] == "device shared with 4 other customers"


def test_spending_cashback_then_refunding_fires_its_rule(scorer: Scorer) -> None:
    aggregates = CustomerAggregates("c1")
    for i in range(4):
        at = T0 - timedelta(days=40 - i)
        aggregates = note_purchase(aggregates, purchase(f"o{i}", at))
        if i < 3:
            aggregates = note_refund(
                aggregates, RefundFacts(f"o{i}", 10_000, at + timedelta(days=16), 500, 500)
            )
    decision = decide(purchase(), aggregates, SharedCounts(), T0, scorer, thresholds=NEVER)
    assert "refunds_after_spending" in decision.rules_fired


def test_honest_history_passes_the_rules(scorer: Scorer) -> None:
    decision = decide(purchase(), loyal_customer(), SharedCounts(), T0, scorer, thresholds=NEVER)
    assert (decision.action, decision.rules_fired, decision.reasons) == ("allow", [], [])
    assert decision.model_version == scorer.model_version
    assert decision.score is not None and 0 < decision.score <= 1


def test_model_thresholds_decide_review_and_block(scorer: Scorer) -> None:
    aggregates, order = loyal_customer(), purchase()
    risk = decide(order, aggregates, SharedCounts(), T0, scorer, thresholds=NEVER).score
    assert risk is not None
    at = Thresholds(review=risk, block=2.0)
    assert decide(order, aggregates, SharedCounts(), T0, scorer, thresholds=at).action == "review"
    at = Thresholds(review=risk, block=risk)
    assert decide(order, aggregates, SharedCounts(), T0, scorer, thresholds=at).action == "block"
    above = Thresholds(review=np.nextafter(risk, 2.0), block=2.0)
    assert decide(order, aggregates, SharedCounts(), T0, scorer, thresholds=above).action == "allow"


def test_model_holds_carry_at_most_three_reasons(scorer: Scorer) -> None:
    decision = decide(
        purchase(), serial_refunder(), SharedCounts(3, 5), T0, scorer, thresholds=ALWAYS_REVIEW
    )
    assert decision.action == "review"
    assert 1 <= len(decision.reasons) <= 3
    assert len(set(decision.reasons)) == len(decision.reasons)


def test_shadow_mode_records_what_it_would_do_but_never_holds(scorer: Scorer) -> None:
    decision = decide(
        purchase(),
        serial_refunder(),
        SharedCounts(),
        T0,
        scorer,
        thresholds=ALWAYS_REVIEW,
        shadow=True,
    )
    assert (decision.action, decision.would_be, decision.shadow) == ("allow", "review", True)
    assert decision.reasons and decision.rules_fired == ["serial_refunds"]
    assert not decision.holds


def test_deny_list_blocks_even_in_shadow_mode(scorer: Scorer) -> None:
    lists = RiskLists(deny_payments=frozenset({"p1"}), allow_customers=frozenset({"c1"}))
    decision = decide(
        purchase(), loyal_customer(), SharedCounts(), T0, scorer, lists=lists, shadow=True
    )
    assert (decision.action, decision.rules_fired) == ("block", ["deny_list:payment"])
    assert decision.reasons == ["payment on the deny list"]


def test_allow_list_skips_rules_and_model_but_keeps_the_score(scorer: Scorer) -> None:
    lists = RiskLists(allow_customers=frozenset({"c1"}))
    decision = decide(
        purchase(),
        serial_refunder(),
        SharedCounts(),
        T0,
        scorer,
        lists=lists,
        thresholds=ALWAYS_REVIEW,
    )
    assert (decision.action, decision.rules_fired) == ("allow", ["allow_list:customer"])
    assert decision.score is not None


WATCHED = RiskLists(watch_customers=frozenset({"c1"}))


def test_watch_list_sends_an_honest_purchase_to_review_first_reason(scorer: Scorer) -> None:
    decision = decide(
        purchase(), loyal_customer(), SharedCounts(), T0, scorer, lists=WATCHED, thresholds=NEVER
    )
    assert (decision.action, decision.would_be) == ("review", "review")
    assert decision.rules_fired == ["watch_list"]
    assert decision.reasons[0] == "customer on the watch list"


def test_watch_list_keeps_a_stricter_block_and_the_fired_rules(scorer: Scorer) -> None:
    block = Thresholds(review=0.0, block=0.0)
    decision = decide(
        purchase(), serial_refunder(), SharedCounts(), T0, scorer, lists=WATCHED, thresholds=block
    )
    assert decision.action == "block"
    assert decision.rules_fired == ["watch_list", "serial_refunds"]
    assert decision.reasons[0] == "customer on the watch list" and len(decision.reasons) <= 3


def test_watch_list_only_records_would_be_in_shadow_mode() -> None:
    decision = decide(
        purchase(), loyal_customer(), SharedCounts(), T0, None, lists=WATCHED, shadow=True
    )
    assert (decision.action, decision.would_be, decision.rules_fired) == (
        "allow",
        "review",
        ["watch_list"],
    )


def test_watch_list_wins_over_the_allow_list_and_deny_over_both() -> None:
    both = RiskLists(allow_customers=frozenset({"c1"}), watch_customers=frozenset({"c1"}))
    watched = decide(purchase(), loyal_customer(), SharedCounts(), T0, None, lists=both)
    assert (watched.action, watched.rules_fired) == ("review", ["watch_list"])
    denied = RiskLists(
        allow_customers=frozenset({"c1"}),
        watch_customers=frozenset({"c1"}),
        deny_customers=frozenset({"c1"}),
    )
    blocked = decide(purchase(), loyal_customer(), SharedCounts(), T0, None, lists=denied)
    assert (blocked.action, blocked.rules_fired) == ("block", ["deny_list:customer"])


def test_without_a_model_only_lists_and_rules_decide() -> None:
    decision = decide(purchase(), serial_refunder(), SharedCounts(), T0, None)
    assert (decision.action, decision.score, decision.model_version) == ("review", None, NO_MODEL)
    off = decide(
        purchase(), serial_refunder(), SharedCounts(), T0, None, rules=RulePolicy(enabled=False)
    )
    assert (off.action, off.rules_fired) == ("allow", [])


def test_the_stored_record_has_no_floats(scorer: Scorer) -> None:
    record = decide(purchase(), serial_refunder(), SharedCounts(), T0, scorer).to_record()
    assert isinstance(record["score"], str) and len(record["score"].split(".")[1]) == 6
    assert not any(isinstance(v, float) for v in record.values())


def test_block_threshold_below_review_is_refused() -> None:
    with pytest.raises(ValueError):
        Thresholds(review=0.7, block=0.6)


def test_decisions_are_pure(scorer: Scorer) -> None:
    args = (purchase(), serial_refunder(), SharedCounts(1, 0), T0, scorer)
    assert decide(*args) == decide(*args)


def test_trained_model_holds_abusers_far_more_often_than_honest_customers(
    traffic: Traffic, scorer: Scorer
) -> None:
    kinds = traffic.kinds()
    begin = traffic.end - timedelta(days=30)
    held = {True: [], False: []}
    for step in replay(traffic):
        if step.now >= begin:
            decision = decide(
                step.facts,
                step.aggregates,
                step.shared,
                step.now,
                scorer,
                rules=RulePolicy(enabled=False),
            )
            held[kinds[step.purchase.customer_id] in ABUSE_KINDS].append(decision.holds)
    assert np.mean(held[True]) > 10 * max(np.mean(held[False]), 0.005)


def test_metadata_thresholds_are_the_default(scorer: Scorer) -> None:
    limits = Thresholds.from_metadata(scorer.metadata)
    decision = decide(purchase(), loyal_customer(), SharedCounts(), T0, scorer)
    expected = limits.action(decision.score or 0.0)
    assert decision.action == expected
