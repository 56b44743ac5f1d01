"""Customer-facing events for the storefront, on EventBridge.

`cashback.available`, `cashback.expiring`, `cashback.expired` and `milestone.reached`
(issue 12), each with a stable `id` in its detail: delivery is at least once (a run that
dies after its commit publishes again next time), so consumers drop an id they have seen.
And payouts' status changes, `payout.requested|submitted|paid|failed|canceled|returned`
(destination masked).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import boto3

from cashback.domain.ledger import Notice

SOURCE = "cashback"
_BATCH = 10  # PutEvents takes at most ten entries


class EventPublisher:
    def __init__(self, bus_name: str, client: Any = None) -> None:
        self.bus_name = bus_name
        self.client = client or boto3.client("events")

    def publish(self, notices: Sequence[Notice], currency_of: Callable[[str], str]) -> list[bool]:
        """Publish; for each notice, whether EventBridge accepted it."""
        accepted: list[bool] = []
        for start in range(0, len(notices), _BATCH):
            batch = notices[start : start + _BATCH]
            reply = self.client.put_events(
                Entries=[
                    {
                        "Source": SOURCE,
                        "DetailType": notice.kind,
                        "Detail": json.dumps(
                            {
                                "id": notice.id,
                                **notice.detail(),
                                "currency": currency_of(notice.tenant),
                            }
                        ),
                        "EventBusName": self.bus_name,
                    }
                    for notice in batch
                ]
            )
            accepted += ["ErrorCode" not in entry for entry in reply["Entries"]]
        return accepted

    def publish_event(self, detail_type: str, detail: dict[str, Any]) -> bool:
        """One event (a payout's status change); whether EventBridge accepted it."""
        reply = self.client.put_events(
            Entries=[
                {
                    "Source": SOURCE,
                    "DetailType": detail_type,
                    "Detail": json.dumps(detail),
                    "EventBusName": self.bus_name,
                }
            ]
        )
        return "ErrorCode" not in reply["Entries"][0]
