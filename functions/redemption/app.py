"""A customer's balance and ledger history (checkout holds arrive with the money-out work)."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from cashback import runtime
from cashback.api import replies
from cashback.api.http import caller, documented, make_resolver
from cashback.api.payloads import ID_PATTERN, BalanceReply, EntriesPage
from cashback.observability import logger, tracer
from cashback.services import balances

app = make_resolver()

CustomerId = Annotated[str, Path(pattern=ID_PATTERN)]


@app.get(
    "/v1/customers/<customer_id>/balance",
    responses=documented(200, BalanceReply, "The customer's balances", path=True),
)
def get_balance(customer_id: CustomerId) -> BalanceReply:
    who = caller(app)
    currency = runtime.tenant_settings(who.tenant).currency
    found = balances.balance(runtime.store(), who.tenant, customer_id)
    return replies.balance(customer_id, currency, found)


@app.get(
    "/v1/customers/<customer_id>/entries",
    responses=documented(
        200,
        EntriesPage,
        "One page of the ledger, newest first",
        {400: "invalid_cursor: not a cursor this API returned"},
        path=True,
        query=True,
    ),
)
def list_entries(
    customer_id: CustomerId,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> EntriesPage:
    who = caller(app)
    currency = runtime.tenant_settings(who.tenant).currency
    history = balances.entries(runtime.store(), who.tenant, customer_id, limit, cursor)
    return replies.entries(customer_id, currency, history)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
