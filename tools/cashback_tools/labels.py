"""`cashback model labels`: analysts' decided cases as JSON Lines, the labels a model
learns from (issue 11).

The core, `label_row`, is a pure function from an order item (as the table stores it,
deserialised) and its note items to one label; `read_decided` is the thin part that reads
them from the table through the store (`review_list`, `case_file`). The format, one
decided case a line, is documented in the README ("Labels"):

    tenant, order_id, customer_id, occurred_at, amount, cashback,
    features {name: number, in FEATURE_NAMES order} or null, score, model_version,
    rules_fired, decision (approve|reject), reason (close reason or null), analyst,
    decided_at, notes [{by, at, text}, oldest first]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from cashback.domain.risk.features import FEATURE_NAMES

DECISIONS = ("approve", "reject")
STATES = ("approved", "rejected")
PAGE = 100


def _number(value: Any) -> float | None:
    return None if value is None or value == "" else float(value)


def label_features(risk: Mapping[str, Any]) -> dict[str, float] | None:
    """The stored feature vector (strings `f"{x:.6g}"` in FEATURE_NAMES order) by name;
    None when the order was scored before features were kept, or for other features."""
    values = risk.get("features")
    if not values or len(values) != len(FEATURE_NAMES):
        return None
    return {name: float(value) for name, value in zip(FEATURE_NAMES, values, strict=True)}


def label_row(order: Mapping[str, Any], notes: Iterable[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """One decided case as a label. Raises ValueError for a case no analyst decided."""
    decision = order.get("decision") or {}
    if decision.get("decision") not in DECISIONS:
        raise ValueError(f"order {order.get('order_id')} has no analyst's decision")
    risk = order.get("risk") or {}
    return {
        "tenant": order["tenant"],
        "order_id": order["order_id"],
        "customer_id": order["customer_id"],
        "occurred_at": order["occurred_at"],
        "amount": int(order["amount"]),
        "cashback": int(order["cashback"]),
        "features": label_features(risk),
        "score": _number(risk.get("score")),
        "model_version": risk.get("model_version"),
        "rules_fired": list(risk.get("rules_fired") or []),
        "decision": decision["decision"],
        "reason": decision.get("reason") or None,
        "analyst": decision.get("by"),
        "decided_at": decision.get("at"),
        "notes": [
            {"by": note.get("by"), "at": note.get("at"), "text": note.get("text")}
            for note in sorted(notes, key=lambda note: str(note.get("at")))
        ],
    }


def label_rows(
    orders: Iterable[Mapping[str, Any]], notes: Mapping[str, Iterable[Mapping[str, Any]]]
) -> list[dict[str, Any]]:
    """Labels of the decided orders (others skipped), oldest decision first; `notes` by
    order id."""
    rows = [
        label_row(order, notes.get(order["order_id"], ()))
        for order in orders
        if (order.get("decision") or {}).get("decision") in DECISIONS
    ]
    return sorted(rows, key=lambda row: (str(row["decided_at"]), row["order_id"]))


def write_labels(rows: Iterable[Mapping[str, Any]], out: Any) -> int:
    count = 0
    for row in rows:
        out.write(json.dumps(row, sort_keys=False) + "\n")
        count += 1
    return count


def read_labels(path: Path) -> list[dict[str, Any]]:
    """Labels from a JSON Lines file (blank lines skipped)."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# -- the table (thin) ---------------------------------------------------------------------


def _plain(order: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(order) and not isinstance(order, type):
        return dataclasses.asdict(order)
    return dict(order)


def _decided_orders(store: Any, tenant: str, state: str) -> Iterator[dict[str, Any]]:
    """Decided cases of one state, oldest first, page by page (the store's `review_list`:
    the queue index's `REVIEW#<tenant>#<state>` partition)."""
    cursor = None
    while True:
        orders, cursor = store.review_list(tenant, state, "age", PAGE, cursor)
        yield from (_plain(order) for order in orders)
        if not cursor:
            return


def _notes(store: Any, tenant: str, order_id: str) -> list[dict[str, Any]]:
    """The case's notes (the order's `NOTE#` items, through the store's `case_file`)."""
    return [_plain(note) for note in store.case_file(tenant, order_id)[1]]


def read_decided(store: Any, tenant: str) -> list[dict[str, Any]]:
    """Every decided case of `tenant` with its notes, as labels."""
    orders = [order for state in STATES for order in _decided_orders(store, tenant, state)]
    notes = {order["order_id"]: _notes(store, tenant, order["order_id"]) for order in orders}
    return label_rows(orders, notes)


def run(args: argparse.Namespace, store: Any) -> int:
    rows = read_decided(store, args.tenant)
    if args.out:
        with Path(args.out).open("w") as out:
            count = write_labels(rows, out)
        print(f"{count} labels of {args.tenant} written to {args.out}", file=sys.stderr)
    else:
        count = write_labels(rows, sys.stdout)
        print(f"{count} labels of {args.tenant}", file=sys.stderr)
    return 0
