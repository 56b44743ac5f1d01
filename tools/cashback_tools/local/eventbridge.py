"""EventBridge's PutEvents (JSON 1.1) on the gateway's port, recorded so tests and the demo
can see what storefronts would receive; checked against the caller's IAM policy if given.
"""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

from cashback_tools.local.http_server import Reply, header
from cashback_tools.local.iam import Policies, access_key_id, event_bus_arn

TARGET = "AWSEvents.PutEvents"
_CONTENT_TYPE = ("Content-Type", "application/x-amz-json-1.1")


class EventRecorder:
    def __init__(self, policies: Policies | None) -> None:
        self.policies = policies
        self.events: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def recorded(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.events)

    def put_events(self, headers: list[tuple[str, str]], body: bytes) -> Reply:
        entries = json.loads(body).get("Entries", [])
        if self.policies is not None:
            caller = access_key_id(header(headers, "Authorization"))
            needs = [
                ("events:PutEvents", event_bus_arn(entry.get("EventBusName"))) for entry in entries
            ]
            denial = self.policies.check(caller, dict.fromkeys(needs))
            if denial is not None:
                payload = json.dumps(
                    {"__type": "AccessDeniedException", "message": denial.message}
                ).encode()
                return Reply(
                    400, payload, [_CONTENT_TYPE, ("x-amzn-ErrorType", "AccessDeniedException")]
                )
        results = []
        with self._lock:
            for entry in entries:
                event_id = str(uuid.uuid4())
                self.events.append(
                    {
                        "id": event_id,
                        "source": entry.get("Source"),
                        "detail-type": entry.get("DetailType"),
                        "bus": entry.get("EventBusName", "default"),
                        "detail": json.loads(entry.get("Detail") or "{}"),
                    }
                )
                results.append({"EventId": event_id})
        payload = json.dumps({"FailedEntryCount": 0, "Entries": results}).encode()
        return Reply(200, payload, [_CONTENT_TYPE])
