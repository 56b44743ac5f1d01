"""The risk settings routes (ReviewFunction, review or admin scope): GET/PUT
/v1/risk/settings and POST /v1/risk/backtest, as a Router the review function includes."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body

from cashback import runtime
from cashback.api.http import caller, documented, json_response
from cashback.api.risk_payloads import (
    BacktestReply,
    BacktestRequest,
    RiskSettingsReply,
    RiskSettingsRequest,
    ThresholdsReply,
)
from cashback.domain.risk import stats
from cashback.domain.risk.model_metadata import load_metadata
from cashback.domain.tenants import RiskThresholds
from cashback.services import risk_settings

router = Router()

SHARES_422 = {
    422: "validation_error: a share outside (0, 0.5], block_share above review_share, "
    "or an unknown mode"
}


def _thresholds(limits: RiskThresholds) -> ThresholdsReply:
    return ThresholdsReply.model_validate(
        {
            "review": float(limits.review),
            "block": float(limits.block),
            "from": limits.source,
            "purchases": limits.purchases,
            "days": stats.DAYS,
            "computed_at": limits.computed_at,
        }
    )


def _backtest(limits: RiskThresholds, result: stats.Backtest) -> BacktestReply:
    return BacktestReply.model_validate(
        {
            "days": stats.DAYS,
            "purchases": result.purchases,
            "thresholds": _thresholds(limits),
            "held": vars(result.held),
            "blocked": vars(result.blocked),
            "allowed": vars(result.allowed),
        }
    )


def _settings(found: risk_settings.RiskSettings, backtest: BacktestReply | None) -> dict[str, Any]:
    reply = RiskSettingsReply.model_validate(
        {
            "mode": found.mode,
            "review_share": str(found.review_share),
            "block_share": str(found.block_share),
            "thresholds": _thresholds(found.thresholds),
            "model_version": found.model_version,
            "backtest": backtest,
        }
    )
    return reply.model_dump(
        mode="json", by_alias=True, exclude={"backtest"} if not backtest else None
    )


@router.get(
    "/v1/risk/settings",
    responses=documented(200, RiskSettingsReply, "The mode, shares and thresholds in force"),
)
def get_risk_settings() -> Response[RiskSettingsReply]:
    who = caller(router)
    found = risk_settings.current(runtime.store(), who.tenant, load_metadata(), who.now)
    return json_response(200, _settings(found, None))


@router.put(
    "/v1/risk/settings",
    responses=documented(
        200,
        RiskSettingsReply,
        "Stored; with the backtest when the mode becomes enforce",
        SHARES_422,
        body=True,
    ),
)
def put_risk_settings(
    proposal: Annotated[RiskSettingsRequest, Body()],
) -> Response[RiskSettingsReply]:
    who = caller(router)
    review_share, block_share = proposal.shares
    found, result = risk_settings.update(
        runtime.store(),
        who.tenant,
        (proposal.mode, review_share, block_share),
        load_metadata(),
        who.now,
    )
    runtime.tenant_cache().invalidate(who.tenant)
    tested = _backtest(found.thresholds, result) if result is not None else None
    return json_response(200, _settings(found, tested))


@router.post(
    "/v1/risk/backtest",
    responses=documented(
        200,
        BacktestReply,
        "The last 30 days under the proposal (nothing changes)",
        SHARES_422,
        body=True,
    ),
)
def risk_backtest(proposal: Annotated[BacktestRequest, Body()]) -> Response[BacktestReply]:
    who = caller(router)
    review_share, block_share = proposal.shares
    limits, result = risk_settings.backtest(
        runtime.store(),
        who.tenant,
        (proposal.mode, review_share, block_share),
        load_metadata(),
        who.now,
    )
    return json_response(200, _backtest(limits, result).model_dump(mode="json", by_alias=True))
