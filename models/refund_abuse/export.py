"""Export a fitted scikit-learn pipeline (optional StandardScaler, then IsolationForest) to
the flat arrays `cashback.domain.risk.scorer.Scorer` walks with numpy alone.

The format is documented in cashback/risk/scorer.py. Only estimators whose arithmetic the
scorer reproduces exactly are accepted; anything else raises instead of exporting a model
that would score differently at run time.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.ensemble._iforest import _average_path_length
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

MODEL_FILE = "model.npz"
METADATA_FILE = "metadata.json"


def _forest_and_scaler(estimator: Any) -> tuple[IsolationForest, StandardScaler | None]:
    if isinstance(estimator, IsolationForest):
        return estimator, None
    if not isinstance(estimator, Pipeline):
        raise TypeError(f"cannot export {type(estimator).__name__}")
    *transforms, (_, forest) = estimator.steps
    if not isinstance(forest, IsolationForest):
        raise TypeError("the pipeline must end in an IsolationForest")
    scalers = [step for _, step in transforms if step not in (None, "passthrough")]
    if len(scalers) > 1 or (scalers and not isinstance(scalers[0], StandardScaler)):
        raise TypeError("only one StandardScaler may precede the forest")
    return forest, scalers[0] if scalers else None


def export_arrays(estimator: Any) -> dict[str, np.ndarray]:
    """The scorer's arrays for a fitted pipeline or bare forest."""
    forest, scaler = _forest_and_scaler(estimator)
    n_features = int(forest.n_features_in_)
    mean = np.zeros(n_features)
    scale = np.ones(n_features)
    if scaler is not None:
        if scaler.with_mean:
            mean = np.asarray(scaler.mean_, dtype=np.float64)
        if scaler.with_std:
            scale = np.asarray(scaler.scale_, dtype=np.float64)

    features, thresholds, lefts, rights, path_lengths, roots = [], [], [], [], [], []
    offset, max_depth = 0, 0
    for index, (tree, columns) in enumerate(
        zip(forest.estimators_, forest.estimators_features_, strict=True)
    ):
        t = tree.tree_
        leaf = t.children_left == -1
        nodes = np.arange(t.node_count)
        # Trees trained on a feature subset number features within that subset.
        feature = np.asarray(columns)[np.where(leaf, 0, t.feature)]
        features.append(np.where(leaf, 0, feature))
        thresholds.append(np.where(leaf, np.inf, t.threshold))
        lefts.append(offset + np.where(leaf, nodes, t.children_left))
        rights.append(offset + np.where(leaf, nodes, t.children_right))
        # sklearn adds, per tree: decision_path_lengths[leaf] + average_path_length[leaf] - 1
        contribution = (
            forest._decision_path_lengths[index] + forest._average_path_length_per_tree[index] - 1.0
        )
        path_lengths.append(np.where(leaf, contribution, 0.0))
        roots.append(offset)
        max_depth = max(max_depth, int(t.max_depth))
        offset += t.node_count
    denominator = len(forest.estimators_) * float(_average_path_length([forest._max_samples])[0])
    return {
        "mean": mean,
        "scale": scale,
        "feature": np.concatenate(features).astype(np.int16),
        "threshold": np.concatenate(thresholds).astype(np.float64),
        "left": np.concatenate(lefts).astype(np.int32),
        "right": np.concatenate(rights).astype(np.int32),
        "path_length": np.concatenate(path_lengths).astype(np.float64),
        "roots": np.asarray(roots, dtype=np.int32),
        "denominator": np.asarray(denominator, dtype=np.float64),
        "max_depth": np.asarray(max_depth, dtype=np.int32),
    }


def arrays_digest(arrays: dict[str, np.ndarray]) -> str:
    """SHA-256 over the arrays' names, dtypes, shapes and bytes: a content id that does not
    depend on zip timestamps."""
    digest = hashlib.sha256()
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}|{array.dtype.str}|{array.shape}|".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def write_model(directory: Path, arrays: dict[str, np.ndarray], metadata: dict[str, Any]) -> None:
    """Write model.npz (compressed, no pickle) and metadata.json into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(directory / MODEL_FILE, allow_pickle=False, **arrays)
    (directory / METADATA_FILE).write_text(json.dumps(metadata, indent=2, sort_keys=True) + "\n")
