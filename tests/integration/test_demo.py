"""`make demo` must keep working: it is the first thing a newcomer runs."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_demo_runs_a_storefront_month_and_the_ledger_audits_clean() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cashback_tools.cli", "demo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "same order id, different body: 409 idempotency_conflict" in out
    assert "bruno tries to return more than he paid: 422 refund_exceeds_order" in out
    assert "  carla            BRL 0.00" in out  # returned everything: nothing left
    assert "hash chains intact, balances equal their entries" in out
    assert "under version 1" in out  # the published program applies to today's purchase
    assert "cashback.expired" in out  # the lifecycle job ran the month forward
    assert "held" in out and ": blocked" in out  # screening held the burst, the deny list
    assert "payment on the deny list" in out  # a case shows its reasons
    assert "the order ships short: captures" in out  # a hold partly captured
    assert "captures all of it: captured" in out
    assert "abandons the cart: canceled, all back" in out
    assert "her late capture: 409 hold_expired" in out  # the sweep released it
    assert ": 422 insufficient_balance" in out
    assert "of cashback comes back with its deadlines" in out  # a reversal
    assert "with cashback, then returns it all: the refund gives back BRL 10.00" in out
    assert "payout_below_minimum" in out
    assert "the provider calls back (signed): " in out
    for status in ("paid", "failed", "returned"):  # payouts settled each way
        assert f" {status:<9} available " in out, status
    assert "payout.returned" in out  # on the bus
    assert "analyst rejects" in out and "(rejected)" in out
