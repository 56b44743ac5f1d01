"""`cashback serve --time-travel`: a local stack that replays history lets the lifecycle job
run as of moments ahead of the clock, which a deployment refuses (issue 8, finding 8).

The stack runs as the operator starts it, in a process of its own, so the flag reaches the
function through the environment the stack gives it. Here a week of hourly runs is
skipped, and the one run after it catches up from the checkpoint: everything that fell
due in between ripens or expires, exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from cashback.adapters.dynamodb.store import Store
from cashback.domain.clock import to_iso
from cashback.domain.tenants import TenantSettings
from cashback.services import keys
from cashback_tools.audit import verify
from cashback_tools.local.stack import TABLE_NAME

from .client import Api, unique

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Traveller:
    url: str
    store: Store
    shop: Api

    def run(self, at: datetime) -> dict[str, Any]:
        client = boto3.client(
            "lambda",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        reply = client.invoke(
            FunctionName="ExpiryFunction", Payload=json.dumps({"time": to_iso(at)}).encode()
        )
        payload = json.loads(reply["Payload"].read())
        assert "FunctionError" not in reply, payload
        return payload  # type: ignore[no-any-return]

    def events(self, customer: str) -> list[tuple[str, int]]:
        events = self.shop.get("/_local/events").json()
        return sorted(
            (e["detail-type"], e["detail"]["amount"])
            for e in events
            if e["detail"].get("customer_id") == customer
        )


@pytest.fixture(scope="module")
def traveller(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Traveller]:
    folder = tmp_path_factory.mktemp("time-travel")
    log = folder / "serve.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cashback_tools.cli",
                "serve",
                "--time-travel",
                "--port",
                "0",
                "--tenant",
                "setup",
                "--keys-file",
                str(folder / "keys.json"),
                "--quiet",
            ],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    try:
        for _ in range(1200):  # a guard against hanging, not a timing assertion
            text = log.read_text()
            if "Ready" in text or process.poll() is not None:
                break
            time.sleep(0.25)
        assert "Ready" in text, text
        lines = text.splitlines()
        url = next(line.split()[1] for line in lines if line.startswith("API"))
        endpoint = next(line.split()[1] for line in lines if line.startswith("DynamoDB"))
        store = Store(
            TABLE_NAME,
            boto3.client(
                "dynamodb",
                endpoint_url=endpoint,
                region_name="us-east-1",
                aws_access_key_id="local",
                aws_secret_access_key="local",
            ),
        )
        # A storefront replaying a year of history, scored in shadow mode (never held).
        now = to_iso(datetime.now(UTC))
        store.put_tenant(
            "replay",
            TenantSettings(currency="BRL", backdate_days=400, risk_mode="shadow"),
            now,
            usage_key=keys.new_usage_key(),
        )
        key = keys.create_key(store, "replay", ["storefront"], now)
        yield Traveller(url, store, Api(url, key))
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)


def test_a_run_after_a_missed_week_catches_up_exactly_once(traveller: Traveller) -> None:
    shop, start = traveller.shop, datetime.now(UTC).replace(microsecond=0)
    ripening, expiring = {}, {}
    for day in range(1, 8):
        # Ripens `day` days from now (a 30-day return window)...
        customer = unique("ripens")
        reply = shop.purchase(
            customer, 10000 * day, occurred_at=to_iso(start - timedelta(days=30 - day))
        )
        assert reply.status_code == 201, reply.text
        ripening[customer] = 500 * day
        # ...or expires `day` days from now (180 days after the purchase).
        customer = unique("expires")
        reply = shop.purchase(
            customer, 10000 * day, occurred_at=to_iso(start - timedelta(days=180 - day))
        )
        assert reply.status_code == 201, reply.text
        expiring[customer] = 500 * day

    first = traveller.run(start)  # this hour's run: the expiring lots are available now
    assert first["lots_ripened"] == len(expiring) and first["failures"] == 0
    checkpoint = traveller.store.checkpoint("lifecycle")
    assert checkpoint is not None and checkpoint < to_iso(start)[:10]

    # A week of hourly runs never happens; the next one catches up from the checkpoint.
    later = start + timedelta(days=8)
    report = traveller.run(later)
    assert report["started_after"] == checkpoint
    assert report["complete"] is True and report["failures"] == 0
    assert (report["lots_ripened"], report["cashback_ripened"]) == (
        len(ripening),
        sum(ripening.values()),
    )
    assert (report["lots_expired"], report["cashback_expired"]) == (
        len(expiring),
        sum(expiring.values()),
    )
    for customer, cashback in ripening.items():
        balance = shop.balance(customer)
        assert (balance["pending"], balance["available"]) == (0, cashback)
        assert traveller.events(customer) == [("cashback.available", cashback)]
    for customer, cashback in expiring.items():
        account = traveller.store.get_account("replay", customer)
        assert (account["pending"], account["available"], account["expired"]) == (0, 0, cashback)
        assert traveller.events(customer) == sorted(
            [
                ("cashback.available", cashback),
                ("cashback.expiring", cashback),
                ("cashback.expired", cashback),
            ]
        )

    # Exactly once: the same run again, and the next hour's, move nothing.
    for at in (later, later + timedelta(hours=1)):
        again = traveller.run(at)
        assert (again["lots_ripened"], again["lots_expired"], again["notices_published"]) == (
            0,
            0,
            0,
        )
    assert verify(traveller.store, "replay").ok


def test_back_at_the_real_clock_the_checkpoint_returns_to_it(traveller: Traveller) -> None:
    """A run ahead of the clock (time travel) leaves the checkpoint in the future; the
    next run at the real time does not trust it and brings it back."""
    now = datetime.now(UTC).replace(microsecond=0)
    traveller.run(now + timedelta(days=200))
    assert traveller.store.checkpoint("lifecycle") > to_iso(now)[:10]  # type: ignore[operator]
    report = traveller.run(now)
    assert report["complete"] is True and report["failures"] == 0
    checkpoint = traveller.store.checkpoint("lifecycle")
    assert checkpoint is not None and checkpoint < to_iso(now)[:10]
