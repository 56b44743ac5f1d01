"""The rules engine: a storefront's versioned cashback program and its pure evaluation.

- ruleset: the rule set (pydantic, strict, immutable; its JSON Schema is docs/rules.schema.json);
  fields: its field types; expiry: the expiry policies and the lifecycle a program sets
- engine: `evaluate(rule_set, purchase, context, version=...)` -> `Evaluation`, and
  `customer_explanation` (explain.py); inputs.py holds what it evaluates, evaluation.py the
  result types, plan.py the compiled rule set
- deadlines: the lot's dates in the storefront's zone; checkout: the checkout limit
- versions: which version is in force, numbering, the TTL cache for warm containers
- budget: sharded campaign budget counters and their paper capacity
- limits: what a version must fit to be published (dates, budgets a purchase's
  transaction can carry, the largest credit)
- lines: an order's cashback attributed to its lines (refunds that name lines)
- growth_rules: the growth rules as data (favourite category, cumulative steps,
  milestones); growth: what they make of a customer's progress and what they add

Nothing here does I/O or reads a clock.
"""
