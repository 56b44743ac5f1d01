"""API Gateway TOKEN authorizer: Bearer API key -> tenant, scopes and the routes allowed."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import event_source
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerResponse,
    APIGatewayAuthorizerTokenEvent,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from cashback import runtime
from cashback.observability import logger, metrics, tracer
from cashback.services import keys


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_source(data_class=APIGatewayAuthorizerTokenEvent)
def lambda_handler(event: APIGatewayAuthorizerTokenEvent, context: LambdaContext) -> dict[str, Any]:
    principal = keys.authenticate(runtime.store(), event.authorization_token or "")
    if principal is None:
        # Lambda counts this as an error; the authorizer's alarm subtracts these.
        metrics.add_metric(name="KeysRefused", unit=MetricUnit.Count, value=1)
        # API Gateway answers 401 only for this exact message.
        raise Exception("Unauthorized")
    arn = event.parsed_arn
    policy = APIGatewayAuthorizerResponse(
        principal_id=principal.key_id,
        region=arn.region,
        aws_account_id=arn.aws_account_id,
        api_id=arn.api_id,
        stage=arn.stage,
        context={"tenant": principal.tenant, "scopes": " ".join(principal.scopes)},
        # The tenant's API Gateway API key: its usage plan gives each tenant its own rate
        # and burst (ApiKeySourceType AUTHORIZER). Without one, API Gateway answers 403.
        usage_identifier_key=principal.usage_key,
    )
    # The policy lists every route the key's scopes allow (not only this one), because
    # API Gateway caches it for the key and reuses it on other routes.
    for method, path in keys.allowed_routes(principal.scopes):
        policy.allow_route(method, path)
    logger.append_keys(tenant=principal.tenant, key_id=principal.key_id)
    return policy.asdict()
