"""The ledger: accounts, cashback lots, immutable hash-chained entries, and the pure
functions that move cashback between them (purchase, refund, decision, time).

Nothing here touches AWS or reads a clock; the store (cashback.adapters.dynamodb.store)
turns a plan into one conditional DynamoDB transaction. Money is integer minor units;
rounding always favours the program, never the customer.

- accounts: Account, its balances and totals; entries: Entry, the hash chain
- lots: Lot, its statuses and dates
- purchases: accrue (and cashback_for); refunds: claw_back and its proportions
- decisions: approve, reject held cashback; aging: advance (ripen, remind, expire)
- spending: draw (earliest deadline first), give_back (and finalize); what was drawn (Draw)
- progress: the customer's progress the growth rules read, counted by purchases and
  netted by refunds
"""

from cashback.domain.ledger.accounts import BALANCES, FIELDS, GENESIS, TOTALS, Account
from cashback.domain.ledger.aging import Advance, Notice, NoticeKind, advance
from cashback.domain.ledger.decisions import Decided, approve, reject
from cashback.domain.ledger.entries import Entry, EntryKind, append, verify_chain
from cashback.domain.ledger.lots import NEVER, Lot, LotStatus
from cashback.domain.ledger.purchases import Accrual, RiskAction, accrue, cashback_for
from cashback.domain.ledger.refunds import (
    Clawback,
    OrderLine,
    RefundPolicy,
    chargeable,
    claw_back,
    clawback_for,
    kept_after_refunds,
    refund_clawback,
)
from cashback.domain.ledger.spending import (
    Draw,
    Movement,
    NotEnough,
    Outflow,
    draw,
    give_back,
    in_proportion,
    latest_first,
    less,
    spendable,
    to_lots,
)

__all__ = [
    "BALANCES",
    "FIELDS",
    "GENESIS",
    "NEVER",
    "TOTALS",
    "Account",
    "Accrual",
    "Advance",
    "Clawback",
    "Decided",
    "Draw",
    "Entry",
    "EntryKind",
    "Lot",
    "Movement",
    "NotEnough",
    "Outflow",
    "LotStatus",
    "Notice",
    "NoticeKind",
    "OrderLine",
    "RefundPolicy",
    "RiskAction",
    "accrue",
    "advance",
    "append",
    "approve",
    "cashback_for",
    "draw",
    "give_back",
    "in_proportion",
    "latest_first",
    "less",
    "spendable",
    "to_lots",
    "chargeable",
    "claw_back",
    "clawback_for",
    "kept_after_refunds",
    "refund_clawback",
    "reject",
    "verify_chain",
]
