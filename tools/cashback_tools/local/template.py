"""What the local runner needs from template.yaml: the table, the functions, the API."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cashback_tools.local import cfn

# Lambda's own defaults when neither the function nor Globals say otherwise.
_DEFAULT_TIMEOUT = 3
_DEFAULT_MEMORY = 128
# API Gateway's built-in gateway responses (the ones the local runner can produce).
_DEFAULT_BODY = '{"message":$context.error.messageString}'
DEFAULT_GATEWAY_RESPONSES: dict[str, tuple[int, str]] = {
    "UNAUTHORIZED": (401, _DEFAULT_BODY),
    "ACCESS_DENIED": (403, _DEFAULT_BODY),
    "MISSING_AUTHENTICATION_TOKEN": (403, _DEFAULT_BODY),
    "AUTHORIZER_FAILURE": (500, _DEFAULT_BODY),
    "AUTHORIZER_CONFIGURATION_ERROR": (500, _DEFAULT_BODY),
    "THROTTLED": (429, _DEFAULT_BODY),
    "INVALID_API_KEY": (403, _DEFAULT_BODY),
    "DEFAULT_4XX": (400, _DEFAULT_BODY),
    "DEFAULT_5XX": (500, _DEFAULT_BODY),
}


class TemplateError(ValueError):
    """template.yaml lacks something the local runner needs."""


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    code_dir: Path
    handler: str
    module_file: Path
    handler_name: str
    timeout: int
    memory: int
    environment: dict[str, str]
    # Logical ids of the layers, Globals' first, in the order Lambda applies them.
    layers: tuple[str, ...] = ()


@dataclass(frozen=True)
class LayerSpec:
    logical_id: str
    content_dir: Path
    # Metadata.BuildMethod: a runtime (python3.12: ContentUri + pip install -r
    # requirements.txt), "makefile" (make build-<LogicalId>), or None (ContentUri as it is).
    build_method: str | None


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    function: str
    authorized: bool
    api_key_required: bool = False


@dataclass(frozen=True)
class UsagePlan:
    """An AWS::ApiGateway::UsagePlan on the API: every API key on it gets its own token
    bucket of `burst` tokens refilled at `rate` per second."""

    name: str
    rate: float
    burst: int


@dataclass(frozen=True)
class AuthorizerSpec:
    name: str
    function: str
    header: str
    validation_expression: str | None


@dataclass(frozen=True)
class Template:
    document: dict[str, Any]
    directory: Path

    @property
    def resources(self) -> dict[str, Any]:
        return self.document.get("Resources") or {}

    def _of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return {
            logical_id: resource.get("Properties") or {}
            for logical_id, resource in self.resources.items()
            if resource.get("Type") == kind
        }

    def _globals(self, section: str) -> dict[str, Any]:
        return (self.document.get("Globals") or {}).get(section) or {}

    def parameter_defaults(self) -> dict[str, str]:
        return {
            name: str(spec["Default"])
            for name, spec in (self.document.get("Parameters") or {}).items()
            if "Default" in spec
        }

    def resolve(self, value: Any, refs: Mapping[str, str] | None = None) -> str | None:
        """A template value as a string, or None when it cannot be resolved locally."""
        known = {**cfn.PSEUDO_PARAMETERS, **self.parameter_defaults(), **(refs or {})}
        return cfn.resolve(value, known)

    def table_create_params(
        self, logical_id: str = "LedgerTable", *, table_name: str
    ) -> dict[str, Any]:
        resource = self.resources.get(logical_id)
        if not resource or resource.get("Type") != "AWS::DynamoDB::Table":
            raise TemplateError(f"{logical_id} is not an AWS::DynamoDB::Table in the template")
        props = resource.get("Properties") or {}
        params: dict[str, Any] = {
            "TableName": table_name,
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": "PAY_PER_REQUEST",
        }
        for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
            if props.get(key):
                params[key] = [_index(index) for index in props[key]]
        stream = props.get("StreamSpecification")
        if stream and stream.get("StreamViewType"):
            params["StreamSpecification"] = {
                "StreamEnabled": True,
                "StreamViewType": stream["StreamViewType"],
            }
        return params

    def function_properties(self) -> dict[str, dict[str, Any]]:
        """Each AWS::Serverless::Function's own Properties (Globals not merged in)."""
        return self._of_type("AWS::Serverless::Function")

    def functions(self, refs: Mapping[str, str] | None = None) -> dict[str, FunctionSpec]:
        defaults = self._globals("Function")
        specs: dict[str, FunctionSpec] = {}
        for logical_id, props in self._of_type("AWS::Serverless::Function").items():
            merged = {**defaults, **props}
            handler = merged.get("Handler")
            code_uri = merged.get("CodeUri")
            if not isinstance(handler, str) or not isinstance(code_uri, str):
                raise TemplateError(f"{logical_id} needs a plain Handler and CodeUri")
            module, _, name = handler.rpartition(".")
            code_dir = (self.directory / code_uri).resolve()
            variables = {
                **((defaults.get("Environment") or {}).get("Variables") or {}),
                **((props.get("Environment") or {}).get("Variables") or {}),
            }
            environment = {
                key: resolved
                for key, value in variables.items()
                if (resolved := self.resolve(value, refs)) is not None
            }
            specs[logical_id] = FunctionSpec(
                logical_id=logical_id,
                code_dir=code_dir,
                handler=handler,
                module_file=code_dir / (module.replace(".", "/") + ".py"),
                handler_name=name,
                timeout=int(merged.get("Timeout", _DEFAULT_TIMEOUT)),
                memory=int(merged.get("MemorySize", _DEFAULT_MEMORY)),
                environment=environment,
                layers=tuple(
                    _layer_id(logical_id, layer)
                    for layer in [*(defaults.get("Layers") or []), *(props.get("Layers") or [])]
                ),
            )
        return specs

    def layers(self) -> dict[str, LayerSpec]:
        specs = {}
        for logical_id, resource in self.resources.items():
            if resource.get("Type") not in (
                "AWS::Serverless::LayerVersion",
                "AWS::Lambda::LayerVersion",
            ):
                continue
            props = resource.get("Properties") or {}
            content = props.get("ContentUri") or props.get("Content")
            if not isinstance(content, str):
                raise TemplateError(f"{logical_id} needs a plain ContentUri (a folder)")
            specs[logical_id] = LayerSpec(
                logical_id=logical_id,
                content_dir=(self.directory / content).resolve(),
                build_method=(resource.get("Metadata") or {}).get("BuildMethod"),
            )
        return specs

    def environment(self, refs: Mapping[str, str] | None = None) -> dict[str, str]:
        """Every function's variables in one dict: in-process handlers share os.environ."""
        merged: dict[str, str] = {}
        for spec in self.functions(refs).values():
            merged.update(spec.environment)
        return merged

    def _api(self) -> dict[str, Any]:
        apis = self._of_type("AWS::Serverless::Api")
        if len(apis) != 1:
            raise TemplateError(f"expected one AWS::Serverless::Api, found {len(apis)}")
        return {**self._globals("Api"), **next(iter(apis.values()))}

    @property
    def stage_name(self) -> str:
        stage = self.resolve(self._api().get("StageName"))
        if not stage:
            raise TemplateError("the API's StageName cannot be resolved")
        return stage

    def authorizer(self) -> AuthorizerSpec | None:
        auth = self._api().get("Auth") or {}
        name = auth.get("DefaultAuthorizer")
        if not name or name == "AWS_IAM":
            return None
        config = (auth.get("Authorizers") or {}).get(name)
        if not config:
            raise TemplateError(f"DefaultAuthorizer {name} is not among Auth.Authorizers")
        if config.get("FunctionPayloadType", "TOKEN") != "TOKEN":
            raise TemplateError(f"{name}: only TOKEN authorizers are supported locally")
        arn = config.get("FunctionArn")
        target = arn.get("Fn::GetAtt") if isinstance(arn, dict) else None
        if not target or target[1] != "Arn":
            raise TemplateError(f"{name}: FunctionArn must be !GetAtt <Function>.Arn")
        identity = config.get("Identity") or {}
        return AuthorizerSpec(
            name=name,
            function=target[0],
            header=identity.get("Header", "Authorization"),
            validation_expression=identity.get("ValidationExpression"),
        )

    def api_routes(self) -> list[Route]:
        has_default = self.authorizer() is not None
        key_default = bool((self._api().get("Auth") or {}).get("ApiKeyRequired", False))
        routes = []
        for logical_id, props in self._of_type("AWS::Serverless::Function").items():
            for event in (props.get("Events") or {}).values():
                if event.get("Type") != "Api":
                    continue
                details = event.get("Properties") or {}
                auth = details.get("Auth") or {}
                opted_out = auth.get("Authorizer") == "NONE"
                routes.append(
                    Route(
                        method=str(details["Method"]).upper(),
                        path=str(details["Path"]),
                        function=logical_id,
                        authorized=has_default and not opted_out,
                        api_key_required=bool(auth.get("ApiKeyRequired", key_default)),
                    )
                )
        return routes

    @property
    def api_key_source(self) -> str:
        """Where API Gateway takes a method's API key from: HEADER (x-api-key) or
        AUTHORIZER (the authorizer's usageIdentifierKey)."""
        return str(self._api().get("ApiKeySourceType", "HEADER"))

    def usage_plans(self) -> list[UsagePlan]:
        """The usage plans that name the API (by !Ref) among their ApiStages."""
        api_ids = set(self._of_type("AWS::Serverless::Api"))
        plans = []
        for logical_id, props in self._of_type("AWS::ApiGateway::UsagePlan").items():
            stages = props.get("ApiStages") or []
            if not any((stage.get("ApiId") or {}).get("Ref") in api_ids for stage in stages):
                continue
            throttle = props.get("Throttle") or {}
            rate, burst = (self.resolve(throttle.get(key)) for key in ("RateLimit", "BurstLimit"))
            if rate is None or burst is None:
                raise TemplateError(f"{logical_id}: Throttle needs RateLimit and BurstLimit")
            plans.append(UsagePlan(name=logical_id, rate=float(rate), burst=int(burst)))
        return plans

    def gateway_responses(self) -> dict[str, tuple[int, str]]:
        """The Api's GatewayResponses as (status, JSON body template), defaults filled in."""
        responses = {}
        for kind, config in (self._api().get("GatewayResponses") or {}).items():
            status, body = DEFAULT_GATEWAY_RESPONSES.get(kind, (500, _DEFAULT_BODY))
            if config.get("StatusCode"):
                status = int(config["StatusCode"])
            templates = config.get("ResponseTemplates") or {}
            responses[kind] = (status, templates.get("application/json", body))
        return responses

    def gateway_response_headers(self, kind: str) -> list[tuple[str, str]]:
        """The static headers a gateway response sets (ResponseParameters: 'value')."""
        config = (self._api().get("GatewayResponses") or {}).get(kind) or {}
        headers = (config.get("ResponseParameters") or {}).get("Headers") or {}
        return [
            (name, value[1:-1])
            for name, value in headers.items()
            if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == "'"
        ]

    def gateway_response(self, kind: str) -> tuple[int, str]:
        """What API Gateway answers for a response type, falling back like it does."""
        responses = self.gateway_responses()
        if kind in responses:
            return responses[kind]
        status, body = DEFAULT_GATEWAY_RESPONSES[kind]
        family = responses.get("DEFAULT_4XX" if status < 500 else "DEFAULT_5XX")
        return (status, family[1]) if family else (status, body)


def load_template(path: Path) -> Template:
    document = cfn.load(path)
    if not isinstance(document, dict):
        raise TemplateError(f"{path} is not a template")
    return Template(document=document, directory=Path(path).resolve().parent)


def _layer_id(function: str, layer: Any) -> str:
    if isinstance(layer, dict) and isinstance(layer.get("Ref"), str):
        return str(layer["Ref"])
    raise TemplateError(
        f"{function}: only layers of this template (!Ref) can run locally, not {layer!r}"
    )


def _index(index: dict[str, Any]) -> dict[str, Any]:
    # Throughput and contributor insights are not create_table arguments for on-demand tables.
    return {key: index[key] for key in ("IndexName", "KeySchema", "Projection") if key in index}
