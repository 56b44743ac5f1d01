"""Refund-abuse risk: features, the numpy scorer and the allow/review/block decision.

The request path imports only this package's runtime modules (features, policy, reasons,
decision, scorer), which need numpy and nothing of scikit-learn or scipy: those two with
numpy exceed Lambda's 250 MB limit. The exported model ships in its own Lambda layer as the package
`cashback_model` (model.npz + metadata.json), so a new model is a new layer version.

numpy itself is imported only when a scorer is loaded, so handlers that merely update
aggregates (refunds, redemptions) never pay for it.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cashback.domain.risk.aggregates import (
    CustomerAggregates,
    IdentityAggregates,
    PurchaseFacts,
    RedemptionFacts,
    RefundFacts,
    SharedCounts,
    note_identity,
    note_purchase,
    note_redemption,
    note_refund,
    shared_counts,
)
from cashback.domain.risk.decision import Decision, decide
from cashback.domain.risk.features import FEATURE_NAMES, features
from cashback.domain.risk.policy import NO_LISTS, RiskLists, RulePolicy, Thresholds

if TYPE_CHECKING:
    from cashback.domain.risk.scorer import Scorer

__all__ = [
    "FEATURE_NAMES",
    "NO_LISTS",
    "CustomerAggregates",
    "Decision",
    "IdentityAggregates",
    "ModelNotFound",
    "PurchaseFacts",
    "RedemptionFacts",
    "RefundFacts",
    "RiskLists",
    "RulePolicy",
    "SharedCounts",
    "Thresholds",
    "decide",
    "features",
    "load_estimator",
    "load_scorer",
    "model_dir",
    "note_identity",
    "note_purchase",
    "note_redemption",
    "note_refund",
    "shared_counts",
]

MODEL_DIR_ENV = "CASHBACK_MODEL_DIR"
ESTIMATOR_ENV = "CASHBACK_ESTIMATOR"
MODEL_PACKAGE = "cashback_model"
ESTIMATOR_FILE = "estimator.skops"
ARTIFACTS = Path("models") / "refund_abuse" / "artifacts"


class ModelNotFound(RuntimeError):
    """No exported model where one was expected, or one built for other features."""


def model_dir() -> Path:
    """Where the exported model is: $CASHBACK_MODEL_DIR, else the `cashback_model` package
    (the model layer, /opt/python on Lambda)."""
    configured = os.environ.get(MODEL_DIR_ENV)
    if configured:
        return Path(configured)
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFound(f"no model: set {MODEL_DIR_ENV} or install the {MODEL_PACKAGE} layer")
    return Path(next(iter(spec.submodule_search_locations)))


@cache
def _load_scorer(directory: Path) -> Scorer:
    from cashback.domain.risk.scorer import Scorer

    if not (directory / "model.npz").is_file():
        raise ModelNotFound(f"no model.npz in {directory}")
    scorer = Scorer.from_dir(directory)
    if scorer.feature_names != FEATURE_NAMES:
        raise ModelNotFound(
            f"model {scorer.model_version} was trained on features "
            f"{scorer.feature_names}, this code computes {FEATURE_NAMES}"
        )
    return scorer


def load_scorer(directory: str | Path | None = None) -> Scorer:
    """The runtime scorer, loaded once per container (per directory) and then reused."""
    return _load_scorer(Path(directory or model_dir()).resolve())


def clear_cache() -> None:
    """Forget loaded scorers (tests, or a tool that swaps models in one process)."""
    _load_scorer.cache_clear()


def _estimator_path() -> Path:
    configured = os.environ.get(ESTIMATOR_ENV)
    if configured:
        return Path(configured)
    candidates = []
    with contextlib.suppress(ModelNotFound):
        candidates.append(model_dir() / ESTIMATOR_FILE)
    for start in (Path.cwd(), Path(__file__).resolve().parent):
        candidates += [base / ARTIFACTS / ESTIMATOR_FILE for base in (start, *start.parents)]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise ModelNotFound(
        f"no {ESTIMATOR_FILE}: set {ESTIMATOR_ENV} or run `python -m models.refund_abuse.train`"
    )


def load_estimator(path: str | Path | None = None) -> Any:
    """The fitted scikit-learn pipeline saved by training, for tools and tests only: it
    imports scikit-learn and skops, which the request path never does. Loading refuses any
    type outside scikit-learn and numpy instead of trusting the file blindly."""
    import skops.io

    file = Path(path) if path else _estimator_path()
    untrusted = skops.io.get_untrusted_types(file=file)
    unexpected = [
        name for name in untrusted if not name.startswith(("sklearn.", "numpy.", "builtins."))
    ]
    if unexpected:
        raise ModelNotFound(f"{file} holds unexpected types: {', '.join(unexpected)}")
    return skops.io.load(file, trusted=untrusted)
