"""The supervised layer: a gradient boosted classifier over the anomaly score and the
features, fitted on analysts' labels beside the simulator's base traffic (issue 11).

Rows and targets (see `supervised_rows`):

* every purchase of the training window, labelled by what the storefront already knows:
  purchases of customers confirmed as abusers before training (chargebacks, earlier
  cases) are positives, the rest negatives (unconfirmed abusers among them: the layer
  learns from the confirmed ones what abuse looks like, the usual positive/unlabelled
  setting);
* every labelled case (analysts' decisions): reject is a positive, approve a negative,
  weighted `LABEL_WEIGHT` times, since an analyst looked at it; a label replaces the base
  row of the same order when the labels come from the training traffic itself.

Inputs are ``[anomaly risk, *features]``, the anomaly risk recomputed by the new forest from
the label's stored features (never the score of the model that was live when it was
decided). `export_arrays` flattens the fitted trees for `cashback.domain.risk.scorer`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.ensemble import GradientBoostingClassifier

LABEL_WEIGHT = 5.0
INPUTS = "anomaly_score"  # the first input column; the features follow in FEATURE_NAMES order


@dataclass(frozen=True)
class BoostConfig:
    trees: int = 150
    depth: int = 3
    learning_rate: float = 0.1
    subsample: float = 0.8
    seed: int = 7


@dataclass(frozen=True)
class Rows:
    """What the classifier is fitted on."""

    X: np.ndarray  # features, FEATURE_NAMES order
    y: np.ndarray  # 1 = abuse
    weight: np.ndarray
    from_labels: np.ndarray  # bool: an analyst's decision, not the base traffic


def supervised_rows(
    X: np.ndarray,
    order_ids: list[str],
    confirmed: np.ndarray,
    labels_X: np.ndarray,
    labels_order_ids: list[str],
    labels_y: np.ndarray,
    held_out: Iterable[str] = (),
) -> Rows:
    """The base traffic's rows (confirmed abusers positive) and the labels (weighted),
    labels replacing base rows of the same order; base rows of held-out labels are left
    out too, so the report's agreement is measured on orders training never saw."""
    labelled = set(labels_order_ids) | set(held_out)
    base = np.asarray([order not in labelled for order in order_ids], dtype=bool)
    return Rows(
        X=np.vstack([X[base], labels_X.reshape(-1, X.shape[1])]),
        y=np.concatenate([confirmed[base].astype(int), labels_y.astype(int)]),
        weight=np.concatenate([np.ones(int(base.sum())), np.full(len(labels_y), LABEL_WEIGHT)]),
        from_labels=np.concatenate([np.zeros(int(base.sum()), bool), np.ones(len(labels_y), bool)]),
    )


def inputs(anomaly: np.ndarray, X: np.ndarray) -> np.ndarray:
    return np.column_stack([anomaly, X])


def fit(anomaly: np.ndarray, rows: Rows, config: BoostConfig) -> GradientBoostingClassifier:
    if len(set(rows.y.tolist())) < 2:
        raise ValueError("the supervised layer needs both abusive and honest examples")
    model = GradientBoostingClassifier(
        n_estimators=config.trees,
        max_depth=config.depth,
        learning_rate=config.learning_rate,
        subsample=config.subsample,
        random_state=config.seed,
    )
    return model.fit(inputs(anomaly, rows.X), rows.y, sample_weight=rows.weight)


def probability(model: GradientBoostingClassifier, anomaly: np.ndarray, X: np.ndarray) -> Any:
    """sklearn's own probability of abuse: what the exported arrays must reproduce."""
    return model.predict_proba(inputs(anomaly, X))[:, 1]


def export_arrays(model: GradientBoostingClassifier) -> dict[str, np.ndarray]:
    """The scorer's `gb_*` arrays: every stage's tree, leaves valued learning_rate * value."""
    if model.n_trees_per_iteration_ != 1 or list(model.classes_) != [0, 1]:
        raise TypeError("only a binary classifier with classes 0 and 1 can be exported")
    init = float(model._raw_predict_init(np.zeros((1, model.n_features_in_)))[0, 0])
    features, thresholds, lefts, rights, values, roots = [], [], [], [], [], []
    offset, max_depth = 0, 0
    for stage in model.estimators_[:, 0]:
        t = stage.tree_
        leaf = t.children_left == -1
        nodes = np.arange(t.node_count)
        features.append(np.where(leaf, 0, t.feature))
        thresholds.append(np.where(leaf, np.inf, t.threshold))
        lefts.append(offset + np.where(leaf, nodes, t.children_left))
        rights.append(offset + np.where(leaf, nodes, t.children_right))
        values.append(np.where(leaf, model.learning_rate * t.value[:, 0, 0], 0.0))
        roots.append(offset)
        max_depth = max(max_depth, int(t.max_depth))
        offset += t.node_count
    return {
        "gb_feature": np.concatenate(features).astype(np.int16),
        "gb_threshold": np.concatenate(thresholds).astype(np.float64),
        "gb_left": np.concatenate(lefts).astype(np.int32),
        "gb_right": np.concatenate(rights).astype(np.int32),
        "gb_value": np.concatenate(values).astype(np.float64),
        "gb_roots": np.asarray(roots, dtype=np.int32),
        "gb_init": np.asarray(init, dtype=np.float64),
        "gb_max_depth": np.asarray(max_depth, dtype=np.int32),
    }


def describe(model: GradientBoostingClassifier, rows: Rows, config: BoostConfig) -> dict[str, Any]:
    """The metadata's `supervised` entry: what the layer is and what it learned from."""
    return {
        "kind": "gradient_boosting",
        "inputs": [INPUTS, "features..."],
        "risk": "probability of abuse = predict_proba of GradientBoostingClassifier",
        "n_estimators": config.trees,
        "max_depth": config.depth,
        "learning_rate": config.learning_rate,
        "subsample": config.subsample,
        "random_state": config.seed,
        "label_weight": LABEL_WEIGHT,
        "rows": int(len(rows.y)),
        "labelled_rows": int(rows.from_labels.sum()),
        "labelled_rejects": int(rows.y[rows.from_labels].sum()),
        "base_positives": int(rows.y[~rows.from_labels].sum()),
    }
