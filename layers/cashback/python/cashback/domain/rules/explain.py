"""Plain-language sentences for the customer, derived from an evaluation's breakdown alone
(so they can be rebuilt from a stored ledger entry with `Evaluation.from_json`).

Amounts per rule are shown rounded down to the unit, like the total; they may therefore
add up to a little less than the values behind them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from zoneinfo import ZoneInfo

from cashback.domain import currencies
from cashback.domain.rules import trials
from cashback.domain.rules.evaluation import Applied, Cut, Evaluation, Missed
from cashback.domain.rules.expiry import Inactivity, Never

_WHERE = {"online": "online", "store": "in store", "app": "in the app"}


def _percent(rate: Decimal) -> str:
    return f"{format((rate * 100).normalize(), 'f')}%"


class _Format:
    def __init__(self, evaluation: Evaluation) -> None:
        self.currency = evaluation.currency
        self.digits = currencies.MINOR_UNITS.get(evaluation.currency, 2)
        self.points = evaluation.unit == "points"
        self.tz = ZoneInfo(evaluation.time_zone)

    def money(self, minor: int | Decimal) -> str:
        units = Decimal(minor).to_integral_value(rounding=ROUND_FLOOR).scaleb(-self.digits)
        return f"{self.currency} {units:,.{self.digits}f}"

    def ledger(self, value: int | Decimal) -> str:
        if self.points:
            whole = int(Decimal(value).to_integral_value(rounding=ROUND_FLOOR))
            return f"{whole:,} point{'' if whole == 1 else 's'}"
        return self.money(value)

    def day(self, at: datetime) -> str:
        local = at.astimezone(self.tz)
        return f"{local.day} {local:%b %Y}"


_ORDER = (
    "base",
    "category",
    "campaign_replace",
    "campaign_exclusive",
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
)


def _label(item: Applied) -> tuple[str, str]:
    """What to call a rule, and what to say after the items it applied to."""
    rate = _percent(item.rate)
    match item.kind:
        case "base":
            return f"Base rate of {rate}", ""
        case "category":
            return f"{item.name[:1].upper()}{item.name[1:]} rate of {rate}", ""
        case "tier":
            return f"{item.name} tier bonus of {rate}", ""
        case "channel":
            return f"Bonus of {rate} for buying {_WHERE.get(item.rule, item.rule)}", ""
        case "segment":
            return f"Bonus of {rate} for {item.name} customers", ""
        case "experiment":
            return f"Extra bonus of {rate}", ""  # the variant's name is not for customers
        case "favourite_category" | "cumulative" | "milestone":
            return _growth_label(item, rate), ""
        case "campaign_add":
            return f"{item.name}: extra {rate}", ""
        case "campaign_replace":
            return f"{item.name}: {rate}", " (instead of the usual rate)"
        case "campaign_exclusive":
            return f"{item.name}: {rate}", " (not combined with other offers)"
    return f"{item.name} of {rate}", ""  # green, birthday, first purchase


def _growth_label(item: Applied, rate: str) -> str:
    """The growth rules' (issue 12): the name is the category, the step's spend in money,
    or the milestone's title."""
    if item.kind == "favourite_category":
        return f"Favourite category ({item.name}) bonus of {rate}"
    if item.kind == "cumulative":
        return f"Bonus of {rate} for {item.name} or more spent so far"
    return f"{item.name}, bonus of {rate}"


def _rules(evaluation: Evaluation, fmt: _Format) -> list[str]:
    groups: dict[tuple[str, str], tuple[Applied, int, Decimal]] = {}
    for line in evaluation.lines:
        for item in line.items:
            key = (item.kind, item.rule)  # one rate per rule within an order
            first, count, value = groups.get(key, (item, 0, Decimal(0)))
            groups[key] = (first, count + 1, value + item.value)
    sentences = []
    for item, count, value in sorted(groups.values(), key=lambda g: _ORDER.index(g[0].kind)):
        label, note = _label(item)
        sentences.append(
            f"{label} on {count} item{'' if count == 1 else 's'}{note}: {fmt.ledger(value)}."
        )
    sentences += [f"{item.name}: {fmt.ledger(item.value)}." for item in evaluation.order_items]
    excluded = sum(line.excluded for line in evaluation.lines)
    if excluded:
        sentences.append(
            f"{excluded} item{'' if excluded == 1 else 's'} in categories that do not earn."
        )
    return sentences


def _cut(cut: Cut, evaluation: Evaluation, fmt: _Format) -> str:
    less = fmt.ledger(cut.amount)
    match cut.kind:
        case "channel":
            return f"Purchases {_WHERE.get(cut.rule or '', cut.rule)} do not earn."
        case "threshold":
            return f"Orders under {fmt.money(cut.limit)} do not earn."
        case "budget":
            names = [
                item.name
                for line in evaluation.lines
                for item in line.items
                if item.rule == cut.rule and item.kind.startswith("campaign_")
            ]
            name = names[0] if names else cut.rule
            return f"The {name} budget is almost used up, so it gave {less} less."
        case "order_cap":
            return f"Each order earns at most {fmt.ledger(cut.limit)}, so this one got {less} less."
        case "credit_limit":
            return (
                f"No order can earn more than {fmt.ledger(cut.limit)}, so this one got {less} less."
            )
    return (
        f"The monthly limit had {fmt.ledger(cut.limit)} left this month, so this order got "
        f"{less} less."
    )


def _missed(missed: Missed, fmt: _Format) -> str:
    return f"Spend {fmt.money(missed.shortfall)} more to get {missed.name}."


def _dates(evaluation: Evaluation, fmt: _Format) -> str:
    start = f"It becomes available on {fmt.day(evaluation.available_at)}"
    if isinstance(evaluation.expiry, Never) or evaluation.expires_at is None:
        return f"{start} and does not expire."
    if isinstance(evaluation.expiry, Inactivity):
        return f"{start} and expires after {evaluation.expiry.days} days without activity."
    last_day = fmt.day(evaluation.expires_at - timedelta(seconds=1))
    return f"{start} and can be used until the end of {last_day}."


def _held_out(evaluation: Evaluation, noun: str) -> list[str] | None:
    """A purchase in its program's holdout: true, plain, and silent about the experiment.

    Why this wording: telling customers they were picked to get nothing invites complaints
    and requests to be moved, and customers who know change how they shop, which spoils the
    very comparison the holdout exists for. The sentence is true (the terms in force, the
    experiment among them, give this purchase nothing), promises nothing else, and reads
    like any other purchase that earns nothing. The storefront still sees the variant in
    the breakdown; its program terms should say that some customers may not earn."""
    if not trials.held_out(evaluation):
        return None
    applies = "apply" if noun == "points" else "applies"
    return [
        f"This order earns no {noun}.",
        f"No {noun} {applies} to this purchase under the current program terms.",
    ]


def customer_explanation(evaluation: Evaluation) -> list[str]:
    fmt = _Format(evaluation)
    noun = "points" if fmt.points else "cashback"
    held_out = _held_out(evaluation, noun)
    if held_out is not None:
        return held_out
    if not evaluation.cashback:
        sentences = [f"This order earns no {noun}."]
    elif fmt.points:
        sentences = [f"This order earns {fmt.ledger(evaluation.cashback)}."]
    else:
        sentences = [f"This order earns {fmt.ledger(evaluation.cashback)} in cashback."]
    sentences += _rules(evaluation, fmt)
    sentences += [_cut(cut, evaluation, fmt) for cut in evaluation.cuts]
    sentences += [_missed(missed, fmt) for missed in evaluation.missed]
    if evaluation.cashback:
        sentences.append(_dates(evaluation, fmt))
    return sentences
