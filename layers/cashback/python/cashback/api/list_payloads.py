"""Request and reply models of the lists routes: an entry put on a list, the live entries
and the audit trail, each shaped from the domain's entries and changes."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from cashback.domain.clock import Timestamp, from_iso
from cashback.domain.lists import ListChange, ListEntry, ListKind

MAX_REASON = 500


class ListEntryRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [
                {"reason": "chargebacks on three orders", "expires_at": "2027-01-31T00:00:00Z"}
            ]
        },
    )

    reason: str = Field(
        min_length=1,
        max_length=MAX_REASON,
        pattern=r"\S",
        description="Why the value is on the list, for the audit trail",
    )
    expires_at: Timestamp | None = Field(
        default=None, description="When the entry stops applying (in the future); none: never"
    )


class ListEntryReply(BaseModel):
    kind: ListKind
    value: str
    reason: str
    by: str = Field(description="The API key id of whoever put it")
    at: datetime
    expires_at: datetime | None

    @classmethod
    def of(cls, entry: ListEntry) -> ListEntryReply:
        return cls(
            kind=entry.kind,
            value=entry.value,
            reason=entry.reason,
            by=entry.by,
            at=from_iso(entry.at),
            expires_at=from_iso(entry.expires_at) if entry.expires_at else None,
        )


class ListPage(BaseModel):
    items: list[ListEntryReply]
    next_cursor: str | None

    @classmethod
    def of(cls, entries: list[ListEntry], next_cursor: str | None) -> ListPage:
        return cls(items=[ListEntryReply.of(entry) for entry in entries], next_cursor=next_cursor)


class ListChangeReply(BaseModel):
    action: Literal["put", "delete"]
    kind: ListKind
    value: str
    reason: str = Field(description="The entry's reason (for a delete, as it was)")
    by: str = Field(description="The API key id of whoever made the change")
    at: datetime
    expires_at: datetime | None

    @classmethod
    def of(cls, change: ListChange) -> ListChangeReply:
        entry = change.entry
        return cls(
            action=change.action,
            kind=entry.kind,
            value=entry.value,
            reason=entry.reason,
            by=change.by,
            at=from_iso(change.at),
            expires_at=from_iso(entry.expires_at) if entry.expires_at else None,
        )


class ListAuditPage(BaseModel):
    items: list[ListChangeReply]
    next_cursor: str | None

    @classmethod
    def of(cls, changes: list[ListChange], next_cursor: str | None) -> ListAuditPage:
        return cls(
            items=[ListChangeReply.of(change) for change in changes], next_cursor=next_cursor
        )
