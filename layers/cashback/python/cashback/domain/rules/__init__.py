"""The rules engine: a storefront's versioned cashback program and its pure evaluation.

- model: the rule set (pydantic, strict, immutable), its JSON Schema via schema.py
- engine: `evaluate(rule_set, purchase, context, version=...)` -> `Evaluation`, and
  `customer_explanation` (explain.py); evaluation.py holds the result types
- lifecycle: the lot's dates in the storefront's zone; redemption: the checkout limit
- versions: which version is in force, numbering, the TTL cache for warm containers
- budget: sharded campaign budget counters and their paper capacity
- limits: what a version must fit to be published (dates, budgets a purchase's
  transaction can carry, the largest credit)
- lines: an order's cashback attributed to its lines (refunds that name lines)

Nothing here does I/O or reads a clock.
"""
