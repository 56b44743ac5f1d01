"""`make demo` must keep working: it is the first thing a newcomer runs; and with
`--serve` (`make demo-console`) its queue is there to work in the console."""

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]


def _demo_then_console() -> tuple[int, str, str, list[dict[str, object]]]:
    """Run `cashback demo --serve` until it says the console is up, read the console page
    and the open queue with the review key it printed, then stop it (SIGTERM)."""
    demo = subprocess.Popen(
        [sys.executable, "-m", "cashback_tools.cli", "demo", "--serve"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert demo.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and not any("Ctrl-C stops" in line for line in lines):
        line = demo.stdout.readline()
        if not line:
            break
        lines.append(line)
    out = "".join(lines)
    try:
        found = re.search(r"The console: (\S+) .*\n  (\S+)\n", out)
        assert found, out
        url, key = found.groups()
        page = requests.get(url, timeout=30)
        assert page.status_code == 200 and "<html" in page.text.lower(), page.text[:200]
        queue = requests.get(
            url.replace("/console/", "/v1/reviews"),
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )
        assert queue.status_code == 200, queue.text
        items = queue.json()["items"]
    finally:
        demo.send_signal(signal.SIGTERM)
        rest, _ = demo.communicate(timeout=120)
    return demo.returncode, out + rest, url, items


def test_demo_runs_a_storefront_month_and_the_ledger_audits_clean() -> None:
    code, out, url, open_cases = _demo_then_console()
    assert code == 0, out
    assert url.endswith("/console/")
    queued = re.search(r"the analysts' queue: (\d+) cases", out)
    assert queued, out
    left = int(queued.group(1)) - 2  # the demo's analysts decide two
    assert len(open_cases) == left
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
    assert "analyst B's decision on it: 409 case_claimed" in out  # A's claim holds
    assert "account_farming, rejected; zeca goes on the watch list" in out
    assert f"the team: {left} cases open, 2 decided, approval rate 0.5000" in out
