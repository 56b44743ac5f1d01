"""The supervised layer (issue 11): its numpy export scores exactly like scikit-learn's
GradientBoostingClassifier, the scorer loads old and new models alike, and training with
labels changes the thresholds as the rule says."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.ensemble import GradientBoostingClassifier, IsolationForest
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from cashback.domain.risk import clear_cache, load_scorer
from cashback.domain.risk.features import FEATURE_NAMES
from cashback.domain.risk.scorer import ModelFormatError, Scorer
from models.refund_abuse import export, supervised
from models.refund_abuse.analysts import Analysts, simulated_labels
from models.refund_abuse.labelled import labels_from_rows
from models.refund_abuse.simulator import SimulationConfig, simulate
from models.refund_abuse.train import TrainConfig, train

N = len(FEATURE_NAMES)
TOLERANCE = 1e-9


def _rows(seed: int, n: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rows = rng.gamma(0.6, 1.0, size=(n, N)) * rng.uniform(0.1, 20, N)
    rows[rng.random(rows.shape) < 0.4] = 0.0
    return rows


@pytest.fixture(scope="module")
def fitted() -> tuple[Pipeline, GradientBoostingClassifier, Scorer]:
    X = _rows(0, 800)
    forest = IsolationForest(n_estimators=20, max_samples=64, random_state=3)
    pipeline = Pipeline([("scale", StandardScaler()), ("forest", forest)]).fit(X)
    anomaly = -pipeline.score_samples(X)
    y = (anomaly > np.quantile(anomaly, 0.9)) | (X[:, 2] > 8)
    rows = supervised.Rows(X, y.astype(int), np.ones(len(y)), np.zeros(len(y), bool))
    model = supervised.fit(anomaly, rows, supervised.BoostConfig(trees=40, depth=3, seed=2))
    arrays = export.export_arrays(pipeline) | supervised.export_arrays(model)
    metadata = {
        "model_version": "test-supervised",
        "feature_names": list(FEATURE_NAMES),
        "thresholds": {"review": 0.5, "block": 0.9},
        "supervised": {"kind": "gradient_boosting"},
    }
    return pipeline, model, Scorer(arrays, metadata)


def _reference(pipeline: Pipeline, model: GradientBoostingClassifier, X: np.ndarray) -> np.ndarray:
    return np.asarray(supervised.probability(model, -pipeline.score_samples(X), X))


def test_the_supervised_risk_equals_sklearns_probability(
    fitted: tuple[Pipeline, GradientBoostingClassifier, Scorer],
) -> None:
    pipeline, model, scorer = fitted
    X = np.vstack([_rows(1, 3000), -_rows(2, 200), _rows(3, 200) * 1e3])
    np.testing.assert_allclose(
        scorer.risk_samples(X), _reference(pipeline, model, X), rtol=0, atol=TOLERANCE
    )
    # The forest's own score is untouched by the layer above it.
    np.testing.assert_allclose(
        scorer.score_samples(X), pipeline.score_samples(X), rtol=0, atol=TOLERANCE
    )
    one = [scorer.risk(row) for row in X[:50]]
    np.testing.assert_allclose(one, scorer.risk_samples(X[:50]), rtol=0, atol=1e-12)


def test_values_exactly_at_the_boosted_splits_take_sklearns_path(
    fitted: tuple[Pipeline, GradientBoostingClassifier, Scorer],
) -> None:
    pipeline, model, scorer = fitted
    arrays = supervised.export_arrays(model)
    split = np.isfinite(arrays["gb_threshold"])
    feature = arrays["gb_feature"][split] - 1  # input 0 is the anomaly score
    edges = arrays["gb_threshold"][split].astype(np.float32)
    rng = np.random.default_rng(4)
    X = _rows(5, 2000)
    for column in range(N):
        mine = edges[feature == column]
        if mine.size:
            values = np.concatenate(
                [
                    mine,
                    np.nextafter(mine, np.float32(np.inf)),
                    np.nextafter(mine, np.float32(-np.inf)),
                ]
            )
            X[:, column] = rng.choice(values.astype(np.float64), size=len(X))
    np.testing.assert_allclose(
        scorer.risk_samples(X), _reference(pipeline, model, X), rtol=0, atol=TOLERANCE
    )


def test_old_models_score_as_before_and_metadata_says_which(
    fitted: tuple[Pipeline, GradientBoostingClassifier, Scorer], tmp_path: Path
) -> None:
    pipeline, model, scorer = fitted
    old = Scorer(export.export_arrays(pipeline), scorer.metadata | {"supervised": None})
    X = _rows(6, 100)
    assert not old.supervised and scorer.supervised
    np.testing.assert_allclose(
        old.risk_samples(X), -pipeline.score_samples(X), rtol=0, atol=TOLERANCE
    )
    with pytest.raises(ModelFormatError, match="gb_"):
        Scorer(export.export_arrays(pipeline), scorer.metadata)
    export.write_model(
        tmp_path, export.export_arrays(pipeline) | supervised.export_arrays(model), scorer.metadata
    )
    clear_cache()
    try:
        loaded = load_scorer(tmp_path)
        assert loaded.supervised
        np.testing.assert_allclose(loaded.risk_samples(X), scorer.risk_samples(X), atol=0)
    finally:
        clear_cache()


@pytest.fixture(scope="module")
def small() -> tuple[TrainConfig, object, object]:
    config = TrainConfig(seed=3, months=4, customers=400, trees=30, max_samples=128)
    traffic = simulate(SimulationConfig.small(seed=3, months=4))
    return config, traffic, train(config, traffic)


def _labels(small: tuple[TrainConfig, object, object], error_rate: float, tmp: Path) -> object:
    config, traffic, base = small
    export.write_model(tmp, base.arrays, base.metadata)  # type: ignore[attr-defined]
    rows = simulated_labels(traffic, Scorer.from_dir(tmp), Analysts(error_rate, months=3))  # type: ignore[arg-type]
    assert rows and all(set(r["features"]) == set(FEATURE_NAMES) for r in rows)
    return labels_from_rows(json.loads(json.dumps(rows)))


def test_training_with_honest_analysts_labels_keeps_the_capacity_thresholds(
    small: tuple[TrainConfig, object, object], tmp_path: Path
) -> None:
    config, traffic, _ = small
    trained = train(config, traffic, _labels(small, 0.0, tmp_path))  # type: ignore[arg-type]
    meta = trained.metadata
    review = meta["thresholds"]["from_labels"]["review"]
    assert review["outcome"] == "capacity"
    assert meta["thresholds"]["review"] == review["capacity_threshold"]
    assert meta["supervised"]["labels"]["training"] > 0
    assert set(trained.arrays) >= {"gb_value", "gb_init", "forest" and "path_length"}


def test_training_with_analysts_who_approve_everything_shrinks_their_queue(
    small: tuple[TrainConfig, object, object], tmp_path: Path
) -> None:
    """Every labelled case came from the queue; told they were all fine, the new model
    holds few of them, and its threshold is not the capacity's on the labels' word."""
    config, traffic, _ = small
    labels = _labels(small, 0.0, tmp_path)
    approving = type(labels)(  # type: ignore[call-arg]
        labels.X,  # type: ignore[attr-defined]
        np.zeros(len(labels), bool),  # type: ignore[arg-type]
        labels.order_ids,  # type: ignore[attr-defined]
        labels.reasons,  # type: ignore[attr-defined]
    )
    trained = train(config, traffic, approving)  # type: ignore[arg-type]
    limits = trained.metadata["thresholds"]
    review = limits["from_labels"]["review"]
    assert limits["review"] >= review["capacity_threshold"]
    assert review["outcome"] != "capacity"
    export.write_model(tmp_path / "new", trained.arrays, trained.metadata)
    risk = Scorer.from_dir(tmp_path / "new").risk_samples(approving.X)
    assert (risk >= limits["review"]).mean() < 0.2
