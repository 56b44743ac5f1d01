"""API Gateway's own answers (gateway responses): when the gateway refuses a request itself
(no route, no token, denied, throttled, ...), the template's status, body and headers.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from cashback_tools.local.http_server import Reply
from cashback_tools.local.proxy_integration import json_headers
from cashback_tools.local.template import DEFAULT_GATEWAY_RESPONSES, Template

_ERROR_TYPES = {
    "UNAUTHORIZED": "UnauthorizedException",
    "ACCESS_DENIED": "AccessDeniedException",
    "MISSING_AUTHENTICATION_TOKEN": "MissingAuthenticationTokenException",
    "AUTHORIZER_FAILURE": "AuthorizerFailureException",
    "AUTHORIZER_CONFIGURATION_ERROR": "AuthorizerConfigurationException",
    "THROTTLED": "TooManyRequestsException",
    "INVALID_API_KEY": "ForbiddenException",
}


@dataclass(frozen=True)
class Refusal:
    kind: str  # the gateway response type: UNAUTHORIZED, ACCESS_DENIED, ...
    message: str | None


class GatewayResponses:
    def __init__(self, template: Template) -> None:
        self.responses = {
            kind: template.gateway_response(kind) for kind in DEFAULT_GATEWAY_RESPONSES
        }
        self.headers = {
            kind: template.gateway_response_headers(kind)
            or template.gateway_response_headers(
                "DEFAULT_4XX" if self.responses[kind][0] < 500 else "DEFAULT_5XX"
            )
            for kind in DEFAULT_GATEWAY_RESPONSES
        }

    def reply(self, refusal: Refusal, request_id: str) -> Reply:
        status, template = self.responses[refusal.kind]
        values = {
            "error.messageString": json.dumps(refusal.message),
            "error.message": refusal.message or "",
            "error.responseType": refusal.kind,
            "requestId": request_id,
        }
        body = re.sub(
            r"\$context\.([A-Za-z.]+[A-Za-z])",
            lambda found: values.get(found.group(1), ""),
            template,
        )
        headers = [
            *json_headers(request_id),
            ("x-amzn-ErrorType", _ERROR_TYPES.get(refusal.kind, refusal.kind)),
            *self.headers[refusal.kind],
        ]
        return Reply(status, body.encode(), headers)
