"""The exported refund-abuse model, shipped as its own Lambda layer (/opt/python).

Holds data, not code: `model.npz` (the forest as flat arrays, no pickle) and
`metadata.json` (model version, feature names, thresholds, training summary, library
versions). `cashback.domain.risk.load_scorer()` finds this package and loads both once per
container. A new model is a new layer version: publish, point the functions at it, and
roll back by pointing them at the previous one.

Written by `python -m models.refund_abuse.train`; do not edit by hand.
"""
