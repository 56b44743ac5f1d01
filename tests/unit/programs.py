"""One program and one campaign to vary, shared by the rules tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cashback.domain.rules.ruleset import RuleSet

# 2026-11-10 15:00 in São Paulo (UTC-3, no daylight saving since 2019).
T = datetime(2026, 11, 10, 18, 0, tzinfo=UTC)


def rules_with(**changes: Any) -> RuleSet:
    program: dict[str, Any] = {
        "currency": "BRL",
        "time_zone": "America/Sao_Paulo",
        "effective_from": "2026-01-01T00:00:00-03:00",
        "base_rate": "0.05",
        **changes,
    }
    return RuleSet.model_validate(program)


def campaign_with(id: str = "c1", **changes: Any) -> dict[str, Any]:
    return {
        "id": id,
        "name": id.upper(),
        "starts_at": "2026-11-01T00:00:00",
        "ends_at": "2026-12-01T00:00:00",
        "rate": "0.05",
        **changes,
    }
