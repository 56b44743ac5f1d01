"""Program managers: publish cashback rule-set versions and read any of them."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from cashback import runtime
from cashback.api.http import caller, documented, json_response, make_resolver
from cashback.api.payloads import EXAMPLE_TIME, PublishedReply, RulesInForce
from cashback.domain.rules.ruleset import RuleSet
from cashback.observability import logger, tracer
from cashback.services import programs

app = make_resolver()


@app.put(
    "/v1/rules",
    responses=documented(
        201,
        PublishedReply,
        "Published as the next version",
        {422: "currency_mismatch, or the program breaks a rule of its schema"},
        body=True,
    ),
)
def publish_rules(
    rules: Annotated[
        RuleSet,
        Body(
            openapi_examples={
                "program": {
                    "summary": "2% back, 5% on shoes",
                    "value": {
                        "name": "Loja Teste",
                        "currency": "BRL",
                        "time_zone": "America/Sao_Paulo",
                        "effective_from": EXAMPLE_TIME,
                        "base_rate": "0.02",
                        "category_rates": {"shoes": "0.05"},
                    },
                }
            }
        ),
    ],
) -> Response[Any]:
    who = caller(app)
    published = programs.publish(
        runtime.store(),
        who.tenant,
        runtime.tenant_settings(who.tenant).currency,
        rules,
        who.key_id,
        who.now,
    )
    runtime.rulebook().published(who.tenant)
    logger.info("rules published", extra={"tenant": who.tenant, **published})
    return json_response(201, published)


@app.get(
    "/v1/rules",
    responses=documented(200, RulesInForce, "The version in force and every version published"),
)
def rules_in_force() -> dict[str, Any]:
    who = caller(app)
    return programs.in_force_reply(runtime.store(), who.tenant, who.now)


@app.get(
    "/v1/rules/<version>",
    responses=documented(
        200,
        dict[str, Any],
        "One version: its rules and when it applies",
        {404: "rules_version_not_found"},
        path=True,
    ),
)
def rules_version(version: Annotated[int, Path(ge=1, le=999_999)]) -> dict[str, Any]:
    who = caller(app)
    return programs.version_reply(runtime.store(), who.tenant, version)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
