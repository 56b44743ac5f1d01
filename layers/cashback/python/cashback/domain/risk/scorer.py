"""Score purchases with an exported isolation forest, and optionally a supervised layer
over it, numpy only.

scikit-learn, scipy and numpy together are larger than Lambda's 250 MB unzipped limit, and
sklearn's `score_samples` on one row costs milliseconds of validation and joblib overhead.
Training exports the fitted pipeline (models/refund_abuse/export.py) as flat arrays and
this module walks all trees at once, level by level, reproducing sklearn's arithmetic:

1. the pipeline's scaler: ``(X - mean) / scale`` in float64 (zeros and ones when absent);
2. the cast to float32 that IsolationForest applies before its trees see the data; each
   split compares that float32 value with the float64 threshold, like sklearn's Cython;
3. per tree, the leaf's depth plus the average path length of the training samples left
   in it, minus one (precomputed per node at export);
4. ``score = -2 ** (-sum_of_depths / (n_trees * c(max_samples)))``.

The arrays of `model.npz` (N nodes over all trees, T trees, F features):

    mean, scale        (F,) float64   the scaler
    feature            (N,) int16     global feature index tested at the node (0 at leaves)
    threshold          (N,) float64   go left when x <= threshold (+inf at leaves)
    left, right        (N,) int32     global node index of the children (itself at leaves)
    path_length        (N,) float64   a leaf's contribution to the depth sum (0 elsewhere)
    roots              (T,) int32     global index of each tree's root
    denominator        ()   float64   n_trees * c(max_samples)
    max_depth          ()   int32     levels to walk so every row reaches its leaf

Leaves point at themselves with an infinite threshold, so a fixed number of vectorised
steps brings every (row, tree) pair to its leaf without branching on which ones are done.

A model trained with analysts' labels (metadata ``"supervised"``, issue 11) adds a gradient
boosted classifier over ``[anomaly risk, *features]`` (models/refund_abuse/supervised.py),
stored as the same tree arrays with the prefix ``gb_``: ``gb_value`` is each leaf's
``learning_rate * value`` and ``gb_init`` the prior's log-odds. Its risk is sklearn's
``predict_proba(...)[:, 1] = 1 / (1 + exp(-(init + sum of leaf values)))``, on inputs cast
to float32 as GradientBoostingClassifier does. Models without it score as before.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ARRAYS = (
    "mean",
    "scale",
    "feature",
    "threshold",
    "left",
    "right",
    "path_length",
    "roots",
    "denominator",
    "max_depth",
)
SUPERVISED_ARRAYS = tuple(
    f"gb_{name}"
    for name in ("feature", "threshold", "left", "right", "value", "roots", "init", "max_depth")
)
CHUNK_ROWS = 4096  # rows per vectorised pass: bounds memory at CHUNK_ROWS * trees indices


class ModelFormatError(ValueError):
    """The exported model is incomplete or inconsistent."""


class Trees:
    """Flat tree arrays walked level by level; each leaf carries a number to add up."""

    def __init__(self, arrays: Mapping[str, np.ndarray], prefix: str, leaf: str) -> None:
        self.feature = np.ascontiguousarray(arrays[f"{prefix}feature"], dtype=np.intp)
        self.threshold = np.ascontiguousarray(arrays[f"{prefix}threshold"], dtype=np.float64)
        self.left = np.ascontiguousarray(arrays[f"{prefix}left"], dtype=np.intp)
        self.right = np.ascontiguousarray(arrays[f"{prefix}right"], dtype=np.intp)
        self.leaf_value = np.ascontiguousarray(arrays[f"{prefix}{leaf}"], dtype=np.float64)
        self.roots = np.ascontiguousarray(arrays[f"{prefix}roots"], dtype=np.intp)
        self.max_depth = int(arrays[f"{prefix}max_depth"])

    def check(self, n_features: int) -> None:
        n_nodes = len(self.feature)
        for name in ("threshold", "left", "right", "leaf_value"):
            if len(getattr(self, name)) != n_nodes:
                raise ModelFormatError(f"{name} has a different length than feature")
        nodes = np.concatenate([self.left, self.right, self.roots])
        if nodes.size and (nodes.min() < 0 or nodes.max() >= n_nodes):
            raise ModelFormatError("a child or root points outside the node arrays")
        if n_nodes and (self.feature.min() < 0 or self.feature.max() >= n_features):
            raise ModelFormatError("a split tests a feature the model does not have")
        if not self.roots.size:
            raise ModelFormatError("a model needs at least one tree")

    def sum_row(self, x: np.ndarray) -> float:
        """One float32 row (the request path): 1-D gathers, about twice as fast as 2-D."""
        node = self.roots
        for _ in range(self.max_depth):
            node = np.where(
                x[self.feature[node]] <= self.threshold[node], self.left[node], self.right[node]
            )
        return float(self.leaf_value[node].sum())

    def sum_chunk(self, rows: np.ndarray) -> np.ndarray:
        """Float32 rows: the sum of each row's leaf values over all trees."""
        n_rows, n_features = rows.shape
        flat = rows.ravel()
        row_base = (np.arange(n_rows, dtype=np.intp) * n_features)[:, None]
        node = np.broadcast_to(self.roots, (n_rows, len(self.roots))).copy()
        for _ in range(self.max_depth):
            values = flat[row_base + self.feature[node]]
            node = np.where(values <= self.threshold[node], self.left[node], self.right[node])
        return self.leaf_value[node].sum(axis=1)


class Scorer:
    """An exported isolation forest pipeline; `score_samples` equals sklearn's. With a
    supervised layer, `risk_samples` equals its `predict_proba(...)[:, 1]`."""

    def __init__(self, arrays: Mapping[str, np.ndarray], metadata: Mapping[str, Any]) -> None:
        self.metadata: dict[str, Any] = dict(metadata)
        self.supervised = bool(self.metadata.get("supervised"))
        wanted = ARRAYS + (SUPERVISED_ARRAYS if self.supervised else ())
        missing = [name for name in wanted if name not in arrays]
        if missing:
            raise ModelFormatError(f"model arrays missing: {', '.join(missing)}")
        self.feature_names: tuple[str, ...] = tuple(self.metadata["feature_names"])
        self.model_version: str = str(self.metadata["model_version"])
        self._mean = np.ascontiguousarray(arrays["mean"], dtype=np.float64)
        self._scale = np.ascontiguousarray(arrays["scale"], dtype=np.float64)
        self._forest = Trees(arrays, "", "path_length")
        self._denominator = float(arrays["denominator"])
        self._boosted = Trees(arrays, "gb_", "value") if self.supervised else None
        self._init = float(arrays["gb_init"]) if self.supervised else 0.0
        self._check()

    def _check(self) -> None:
        n_features = len(self.feature_names)
        if self._mean.shape != (n_features,) or self._scale.shape != (n_features,):
            raise ModelFormatError("scaler arrays do not match the feature names")
        self._forest.check(n_features)
        if self._denominator <= 0:
            raise ModelFormatError("a model needs at least one tree of more than one sample")
        if self._boosted is not None:
            self._boosted.check(n_features + 1)

    @classmethod
    def from_dir(cls, directory: str | Path) -> Scorer:
        """Load `model.npz` and `metadata.json` (no pickle: plain arrays only)."""
        directory = Path(directory)
        metadata = json.loads((directory / "metadata.json").read_text())
        with np.load(directory / "model.npz", allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in stored.files}
        return cls(arrays, metadata)

    @property
    def n_trees(self) -> int:
        return len(self._forest.roots)

    def _rows(self, X: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
        rows = np.asarray(X, dtype=np.float64)
        if rows.ndim != 2 or rows.shape[1] != len(self.feature_names):
            raise ValueError(
                f"expected rows of {len(self.feature_names)} features, got shape {rows.shape}"
            )
        if not np.isfinite(rows).all():
            raise ValueError("features must be finite numbers")
        return rows

    def score_samples(self, X: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
        """sklearn's `score_samples` of the forest: the opposite of the anomaly score, in
        [-1, 0); the lower, the more abnormal."""
        rows = self._rows(X)
        scores = np.empty(rows.shape[0], dtype=np.float64)
        for start in range(0, rows.shape[0], CHUNK_ROWS):
            chunk = self._scaled(rows[start : start + CHUNK_ROWS])
            depths = self._forest.sum_chunk(chunk)
            scores[start : start + len(chunk)] = -(2.0 ** (-depths / self._denominator))
        return scores

    def risk_samples(self, X: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
        """The risk of each row, higher is riskier: the supervised layer's probability of
        abuse when the model has one, else the anomaly score (= -score_samples)."""
        anomaly = -self.score_samples(X)
        if self._boosted is None:
            return anomaly
        inputs = np.column_stack([anomaly, self._rows(X)]).astype(np.float32)
        raw = np.empty(len(inputs), dtype=np.float64)
        for start in range(0, len(inputs), CHUNK_ROWS):
            chunk = inputs[start : start + CHUNK_ROWS]
            raw[start : start + len(chunk)] = self._init + self._boosted.sum_chunk(chunk)
        with np.errstate(over="ignore"):  # exp(-raw) = inf: the probability is 0, as in sklearn
            return 1.0 / (1.0 + np.exp(-raw))

    def risk(self, row: Sequence[float]) -> float:
        """The risk of one purchase (the request path): the anomaly score in (0, 1], or the
        supervised layer's probability in (0, 1) when the model has one."""
        x = self._rows([row])[0]
        depths = self._forest.sum_row(self._scaled(x))
        anomaly = 2.0 ** (-depths / self._denominator)
        if self._boosted is None:
            return anomaly
        inputs = np.concatenate([[anomaly], x]).astype(np.float32)
        raw = self._init + self._boosted.sum_row(inputs)
        with np.errstate(over="ignore"):
            return float(1.0 / (1.0 + np.exp(-np.float64(raw))))

    def _scaled(self, rows: np.ndarray) -> np.ndarray:
        return ((rows - self._mean) / self._scale).astype(np.float32)
