"""The lists routes (ReviewFunction, review or admin scope): the storefront's allow, deny
and watch list entries, put and removed with an audit trail, applied to the next purchase."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query

from cashback import runtime
from cashback.api.http import caller, documented
from cashback.api.list_payloads import ListAuditPage, ListEntryReply, ListEntryRequest, ListPage
from cashback.domain.ids import ID_PATTERN
from cashback.domain.lists import ListKind
from cashback.services import lists

router = Router()

Kind = Annotated[ListKind, Path(description="The list: an unknown kind is 422")]
Value = Annotated[str, Path(pattern=ID_PATTERN, description="A customer, device or payment id")]
Limit = Annotated[int, Query(ge=1, le=100)]
Cursor = Annotated[str | None, Query(max_length=1024)]
_CURSOR_ERROR = {400: "invalid_cursor: not a cursor this API returned"}


@router.get(
    "/v1/lists",
    responses=documented(
        200, ListPage, "Live entries by kind and value", _CURSOR_ERROR, query=True
    ),
)
def list_entries(
    kind: Annotated[ListKind | None, Query()] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> ListPage:
    who = caller(router)
    return ListPage.of(*lists.page(runtime.store(), who.tenant, kind, who.now, limit, cursor))


@router.get(
    "/v1/lists/audit",
    responses=documented(
        200, ListAuditPage, "Every change, newest first", _CURSOR_ERROR, query=True
    ),
)
def list_audit(limit: Limit = 50, cursor: Cursor = None) -> ListAuditPage:
    who = caller(router)
    return ListAuditPage.of(*lists.audit(runtime.store(), who.tenant, limit, cursor))


@router.put(
    "/v1/lists/<kind>/<value>",
    responses=documented(
        200,
        ListEntryReply,
        "On the list from the next purchase",
        {422: "expiry_in_past: expires_at is not in the future"},
        body=True,
        path=True,
    ),
)
def put_list_entry(
    kind: Kind, value: Value, entry: Annotated[ListEntryRequest, Body()]
) -> ListEntryReply:
    who = caller(router)
    put = lists.put(
        runtime.store(),
        who.tenant,
        kind,
        value,
        entry.reason,
        who.key_id,
        who.now,
        entry.expires_at,
    )
    return ListEntryReply.of(put)


@router.delete(
    "/v1/lists/<kind>/<value>",
    responses=documented(
        204,
        None,
        "Off the list from the next purchase",
        {404: "list_entry_not_found: not on the list, or its entry expired"},
        path=True,
    ),
)
def remove_list_entry(kind: Kind, value: Value) -> Response[None]:
    who = caller(router)
    lists.remove(runtime.store(), who.tenant, kind, value, who.key_id, who.now)
    return Response(status_code=204)
