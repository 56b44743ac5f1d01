"""The numpy scorer scores exactly like scikit-learn, and the request path never imports it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.ensemble import IsolationForest
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import cashback.domain.risk
from cashback.domain.risk import ModelNotFound, clear_cache, load_estimator, load_scorer
from cashback.domain.risk.features import FEATURE_NAMES
from cashback.domain.risk.scorer import ModelFormatError, Scorer
from models.refund_abuse.export import export_arrays, write_model

ROOT = Path(__file__).resolve().parents[2]
N_FEATURES = len(FEATURE_NAMES)
TOLERANCE = 1e-9


def _training_rows(seed: int = 0, n: int = 600) -> np.ndarray:
    """Feature-like data: mostly zeros and small counts, a few wide columns."""
    rng = np.random.default_rng(seed)
    rows = rng.gamma(0.6, 1.0, size=(n, N_FEATURES)) * rng.uniform(0.1, 50, N_FEATURES)
    rows[rng.random(rows.shape) < 0.4] = 0.0
    return rows


def _metadata(names: list[str] | None = None) -> dict[str, Any]:
    return {
        "model_version": "test-model",
        "feature_names": names or list(FEATURE_NAMES),
        "thresholds": {"review": 0.6, "block": 0.7},
    }


def _save(estimator: Any, directory: Path, names: list[str] | None = None) -> Path:
    write_model(directory, export_arrays(estimator), _metadata(names))
    return directory


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    forest = IsolationForest(n_estimators=25, max_samples=64, random_state=3)
    return Pipeline([("scale", StandardScaler()), ("forest", forest)]).fit(_training_rows())


@pytest.fixture(scope="module")
def model_dir(pipeline: Pipeline, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _save(pipeline, tmp_path_factory.mktemp("model"))


@pytest.fixture(scope="module")
def scorer(model_dir: Path) -> Scorer:
    return Scorer.from_dir(model_dir)


def test_scores_equal_sklearn_on_many_rows(pipeline: Pipeline, scorer: Scorer) -> None:
    rows = np.vstack(
        [
            _training_rows(seed=1, n=3000),
            -_training_rows(seed=2, n=200),
            _training_rows(seed=3, n=200) * 1e4,
        ]
    )
    np.testing.assert_allclose(
        scorer.score_samples(rows), pipeline.score_samples(rows), rtol=0, atol=TOLERANCE
    )


@settings(max_examples=150, deadline=None)
@given(
    arrays(
        np.float64,
        st.tuples(st.integers(1, 40), st.just(N_FEATURES)),
        elements=st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
    )
)
def test_scores_equal_sklearn_on_any_finite_rows(
    pipeline: Pipeline, scorer: Scorer, rows: np.ndarray
) -> None:
    np.testing.assert_allclose(
        scorer.score_samples(rows), pipeline.score_samples(rows), rtol=0, atol=TOLERANCE
    )


def test_a_bare_forest_on_feature_subsets_scores_equal_even_exactly_at_thresholds(
    tmp_path: Path,
) -> None:
    """Values at a split's threshold (and one float32 step either side) take sklearn's path:
    the float32 cast and `x <= threshold` are reproduced exactly."""
    forest = IsolationForest(n_estimators=15, max_samples=50, max_features=0.5, random_state=5).fit(
        _training_rows(seed=4, n=300)
    )
    scorer = Scorer.from_dir(_save(forest, tmp_path))
    arrays_ = export_arrays(forest)
    split = np.isfinite(arrays_["threshold"])
    edges = arrays_["threshold"][split].astype(np.float32)
    candidates = np.concatenate(
        [edges, np.nextafter(edges, np.float32(np.inf)), np.nextafter(edges, np.float32(-np.inf))]
    ).astype(np.float64)
    rng = np.random.default_rng(6)
    rows = rng.choice(candidates, size=(2000, N_FEATURES))
    np.testing.assert_allclose(
        scorer.score_samples(rows), forest.score_samples(rows), rtol=0, atol=TOLERANCE
    )


def test_one_row_and_batch_paths_agree(scorer: Scorer) -> None:
    rows = _training_rows(seed=7, n=50)
    batch = scorer.score_samples(rows)
    single = [scorer.score_samples(row[None, :])[0] for row in rows]
    np.testing.assert_allclose(single, batch, rtol=0, atol=1e-12)
    assert scorer.risk(rows[0].tolist()) == pytest.approx(-batch[0], abs=1e-12)


def test_bad_rows_are_refused(scorer: Scorer) -> None:
    with pytest.raises(ValueError, match="features"):
        scorer.score_samples(np.zeros((2, N_FEATURES - 1)))
    with pytest.raises(ValueError, match="finite"):
        scorer.score_samples([[np.nan] * N_FEATURES])


def test_inconsistent_model_files_are_refused(model_dir: Path, tmp_path: Path) -> None:
    with np.load(model_dir / "model.npz") as stored:
        broken = {name: stored[name] for name in stored.files}
    broken["left"] = broken["left"] + len(broken["left"])
    write_model(tmp_path, broken, _metadata())
    with pytest.raises(ModelFormatError):
        Scorer.from_dir(tmp_path)


def test_load_scorer_reads_the_configured_directory_once(
    model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clear_cache()
    monkeypatch.setenv("CASHBACK_MODEL_DIR", str(model_dir))
    first = load_scorer()
    assert load_scorer() is first
    assert first.feature_names == FEATURE_NAMES
    assert first.model_version == "test-model"


def test_load_scorer_refuses_a_model_built_for_other_features(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    clear_cache()
    _save(pipeline, tmp_path, names=[f"f{i}" for i in range(N_FEATURES)])
    with pytest.raises(ModelNotFound, match="features"):
        load_scorer(tmp_path)
    with pytest.raises(ModelNotFound):
        load_scorer(tmp_path / "missing")


def test_load_estimator_returns_the_skops_saved_pipeline(
    pipeline: Pipeline, scorer: Scorer, tmp_path: Path
) -> None:
    import skops.io

    path = tmp_path / "estimator.skops"
    skops.io.dump(pipeline, path, compression=zipfile.ZIP_DEFLATED)
    estimator = load_estimator(path)
    rows = _training_rows(seed=8, n=100)
    np.testing.assert_allclose(
        scorer.score_samples(rows), estimator.score_samples(rows), rtol=0, atol=TOLERANCE
    )


RUNTIME_PROBE = """
import json, sys
from datetime import UTC, datetime, timedelta
import cashback.domain.risk.features, cashback.domain.risk.scorer, cashback.domain.risk.decision
from cashback.domain.risk import (
    CustomerAggregates, PurchaseFacts, SharedCounts, decide, load_scorer,
)
at = datetime(2026, 3, 1, tzinfo=UTC)
purchase = PurchaseFacts("o1", "c1", 10000, 500, at, at + timedelta(days=14))
decision = decide(purchase, CustomerAggregates("c1"), SharedCounts(), at, load_scorer())
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("sklearn", "scipy"))
print(json.dumps({"heavy": heavy, "action": decision.action}))
"""


def test_runtime_modules_never_import_sklearn_or_scipy(model_dir: Path) -> None:
    """In a fresh interpreter: import the runtime modules, load the model, decide a purchase;
    neither scikit-learn nor scipy may be in sys.modules afterwards."""
    env = {**os.environ, "CASHBACK_MODEL_DIR": str(model_dir)}
    result = subprocess.run(
        [sys.executable, "-c", RUNTIME_PROBE],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["heavy"] == []
    assert report["action"] in ("allow", "review", "block")


def test_importing_the_risk_package_does_not_import_numpy() -> None:
    """Handlers that only update aggregates (refunds, redemptions) skip numpy entirely."""
    probe = (
        "import sys, cashback.domain.risk.features, cashback.domain.risk.decision; "
        "print('numpy' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=ROOT,
    )
    assert result.stdout.strip() == "False"
    assert cashback.domain.risk.MODEL_DIR_ENV == "CASHBACK_MODEL_DIR"
