"""What an evaluation returns: the cashback and the breakdown behind it.

The breakdown is what the purchase reply and the ledger entry carry (`to_json`), and what
the customer explanation is derived from (`from_json` rebuilds it from a stored entry).
Values are `Decimal` in ledger units *before* the one final round down, so every step can
be checked: cashback == floor(gross - sum(cut amounts)), and `rounding` is the fraction
that round down dropped. In JSON, decimals are strings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, NamedTuple

from pydantic import TypeAdapter

from cashback.domain.clock import from_iso, to_iso
from cashback.domain.rules.experiments import Assignment
from cashback.domain.rules.expiry import Expiry

RuleKind = Literal[
    "base",
    "category",
    "tier",
    "channel",
    "segment",
    "experiment",
    "green",
    "birthday",
    "first_purchase",
    "favourite_category",
    "cumulative",
    "milestone",
    "campaign_add",
    "campaign_replace",
    "campaign_exclusive",
]
CutKind = Literal["channel", "threshold", "budget", "order_cap", "monthly_cap", "credit_limit"]

_EXPIRY: TypeAdapter[Expiry] = TypeAdapter(Expiry)


def decimal_text(value: Decimal) -> str:
    text = str(value)  # the fast path; only tiny or huge values need the slow one
    return format(value, "f") if "E" in text else text


class Applied(NamedTuple):
    """One rule applied to one line (or, for fixed bonuses, to the order)."""

    kind: RuleKind
    rule: str  # which one: a category, a tier, a channel, a campaign id
    name: str  # what a customer reads
    rate: Decimal  # zero for a fixed amount
    value: Decimal  # ledger units, before rounding

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "rule": self.rule,
            "name": self.name,
            "rate": decimal_text(self.rate),
            "value": decimal_text(self.value),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Applied:
        return cls(
            data["kind"], data["rule"], data["name"], Decimal(data["rate"]), Decimal(data["value"])
        )


class LineResult(NamedTuple):
    position: int  # in the purchase's lines
    sku: str
    category: str
    amount: int
    excluded: bool  # its category never earns
    rate: Decimal  # the sum of the rates applied
    value: Decimal
    items: tuple[Applied, ...]


def _lines_json(lines: tuple[LineResult, ...]) -> tuple[list[dict[str, Any]], list[Any]]:
    """Lines with their rules by reference: a rule's kind, name and rate are written once
    per order, and each line lists [rule index, value] (a 500-line order stays far below
    DynamoDB's 400 KB item limit). Within an order a (kind, rule) has one rate."""
    rules: list[dict[str, Any]] = []
    seen: dict[tuple[str, str], int] = {}
    out: list[Any] = []
    for line in lines:
        applied = []
        for item in line.items:
            at = seen.get((item.kind, item.rule))
            if at is None:
                at = seen[(item.kind, item.rule)] = len(rules)
                rules.append(
                    {
                        "kind": item.kind,
                        "rule": item.rule,
                        "name": item.name,
                        "rate": decimal_text(item.rate),
                    }
                )
            applied.append([at, decimal_text(item.value)])
        out.append(
            {
                "sku": line.sku,
                "category": line.category,
                "amount": line.amount,
                "excluded": line.excluded,
                "rate": decimal_text(line.rate),
                "value": decimal_text(line.value),
                "applied": applied,
            }
        )
    return rules, out


def _lines_from_json(
    rules: list[Mapping[str, Any]], lines: list[Mapping[str, Any]]
) -> tuple[LineResult, ...]:
    def applied(at: int, value: str) -> Applied:
        rule = rules[at]
        return Applied(
            rule["kind"], rule["rule"], rule["name"], Decimal(rule["rate"]), Decimal(value)
        )

    return tuple(
        LineResult(
            position,
            line["sku"],
            line["category"],
            line["amount"],
            line["excluded"],
            Decimal(line["rate"]),
            Decimal(line["value"]),
            tuple(applied(at, value) for at, value in line["applied"]),
        )
        for position, line in enumerate(lines)
    )


class Cut(NamedTuple):
    """A limit that reduced the cashback, by how much (ledger units, before rounding)."""

    kind: CutKind
    rule: str | None  # the campaign of a budget, the channel of a channel rule
    amount: Decimal
    limit: int  # the threshold, cap or remaining budget (0 for a channel that never earns)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "rule": self.rule,
            "amount": decimal_text(self.amount),
            "limit": self.limit,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Cut:
        return cls(data["kind"], data["rule"], Decimal(data["amount"]), data["limit"])


class Missed(NamedTuple):
    """A campaign that was running but whose minimum order amount was not reached."""

    campaign: str
    name: str
    shortfall: int  # minor units more the order needed

    def to_json(self) -> dict[str, Any]:
        return {"campaign": self.campaign, "name": self.name, "shortfall": self.shortfall}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Missed:
        return cls(data["campaign"], data["name"], data["shortfall"])


@dataclass(frozen=True, slots=True)
class Evaluation:
    version: int
    currency: str
    unit: Literal["money", "points"]
    cashback: int  # ledger units, rounded down once
    gross: Decimal  # every rule's value added up, before cuts and rounding
    rounding: Decimal  # what the final round down dropped
    lines: tuple[LineResult, ...]
    order_items: tuple[Applied, ...]  # fixed bonuses
    cuts: tuple[Cut, ...]
    missed: tuple[Missed, ...]
    tier: str | None
    campaigns: tuple[str, ...]  # campaigns that applied, in stacking order
    budget_consumption: Mapping[str, int]  # campaign id -> ledger units to take from budget
    month: str  # local calendar month of the purchase, the monthly cap's key ("2026-11")
    time_zone: str
    available_at: datetime
    expires_at: datetime | None
    expiry: Expiry  # the policy the lot follows (the inactivity one needs storage's help)
    # The purchase's variant in each experiment that ran for it (rules.experiments).
    experiments: tuple[Assignment, ...] = ()

    def to_json(self) -> dict[str, Any]:
        rules, lines = _lines_json(self.lines)
        return {
            "version": self.version,
            "currency": self.currency,
            "unit": self.unit,
            "cashback": self.cashback,
            "gross": decimal_text(self.gross),
            "rounding": decimal_text(self.rounding),
            "rules": rules,
            "lines": lines,
            "order_rules": [item.to_json() for item in self.order_items],
            "cuts": [cut.to_json() for cut in self.cuts],
            "missed": [missed.to_json() for missed in self.missed],
            "tier": self.tier,
            "campaigns": list(self.campaigns),
            "budget_consumption": dict(self.budget_consumption),
            "month": self.month,
            "time_zone": self.time_zone,
            "available_at": to_iso(self.available_at),
            "expires_at": to_iso(self.expires_at) if self.expires_at else None,
            "expiry": self.expiry.model_dump(mode="json"),
            "experiments": [assignment.to_json() for assignment in self.experiments],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Evaluation:
        return cls(
            version=data["version"],
            currency=data["currency"],
            unit=data["unit"],
            cashback=data["cashback"],
            gross=Decimal(data["gross"]),
            rounding=Decimal(data["rounding"]),
            lines=_lines_from_json(data["rules"], data["lines"]),
            order_items=tuple(Applied.from_json(item) for item in data["order_rules"]),
            cuts=tuple(Cut.from_json(cut) for cut in data["cuts"]),
            missed=tuple(Missed.from_json(missed) for missed in data["missed"]),
            tier=data["tier"],
            campaigns=tuple(data["campaigns"]),
            budget_consumption=dict(data["budget_consumption"]),
            month=data["month"],
            time_zone=data["time_zone"],
            available_at=from_iso(data["available_at"]),
            expires_at=from_iso(data["expires_at"]) if data["expires_at"] else None,
            expiry=_EXPIRY.validate_python(data["expiry"]),
            experiments=tuple(Assignment.from_json(a) for a in data.get("experiments", ())),
        )
