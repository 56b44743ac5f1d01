"""The refund-abuse model: behaviour simulator, training, evaluation and backtests.

Runs on a developer machine or in CI, never on the request path: it imports scikit-learn,
skops and matplotlib freely. The features it trains on come from the layer
(`cashback.domain.risk.features`), so training and runtime cannot drift apart.

    python -m models.refund_abuse.train       # simulate, fit, export the model layer
    python -m models.refund_abuse.evaluate    # held-out month, report.md and plots
    python -m models.refund_abuse.backtest    # how decisions change under a candidate
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "models" / "refund_abuse" / "artifacts"
MODEL_LAYER = ROOT / "layers" / "model" / "python" / "cashback_model"


def money(minor: int) -> str:
    """Minor units as a decimal amount for reports, with integer arithmetic only."""
    sign = "-" if minor < 0 else ""
    units, cents = divmod(abs(int(minor)), 100)
    return f"{sign}{units:,}.{cents:02d}"
