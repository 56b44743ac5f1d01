"""Train the refund-abuse model and export it for the runtime.

    python -m models.refund_abuse.train [--seed 7] [--trees 200] [--max-samples 512]

1. Traffic: simulated (or recorded, --traffic), replayed through the runtime's own
   aggregates and features (models/refund_abuse/replay.py). The first month only builds
   history, so no training row is computed from an empty past it would not have in
   production.
2. A training sample believed clean, guarded against masking (see `training_sample`).
3. A scikit-learn pipeline, StandardScaler then IsolationForest. The scaler does not change
   what the forest isolates (its splits are drawn uniformly between a node's minimum and
   maximum, which scaling moves along); it is there so every feature is comparable in the
   exported arrays and in reports, and the exporter proves the scorer reproduces it.
4. Thresholds from the analysts' capacity: the risk-score quantiles at which
   `review_share` (2%) of the training traffic would be reviewed and `block_share` (0.3%)
   blocked, on all training traffic, abusers included, as production would see it.
5. Export: the model layer (model.npz + metadata.json) and the fitted estimator saved with
   skops (not pickle) in models/refund_abuse/artifacts/estimator.skops.

With analysts' labels (`--labels`, issue 11) two more steps, on four fifths of the labels
(the rest is held out for the report, labelled.py):

6. a supervised layer over [anomaly score, features] (supervised.py), exported beside the
   forest; the risk the thresholds apply to becomes its probability of abuse;
7. thresholds tuned by the labels: the capacity quantiles of step 4, raised where the
   labelled cases above them miss the precision target (labelled.py says the rule).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import zipfile
from dataclasses import asdict, dataclass, field, replace
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.ensemble import GradientBoostingClassifier, IsolationForest
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from cashback.domain.risk.features import FEATURE_DESCRIPTIONS, FEATURE_NAMES
from cashback_tools.model_cli import parser_for
from models.refund_abuse import ARTIFACTS, MODEL_LAYER, labelled, supervised
from models.refund_abuse.export import (
    METADATA_FILE,
    arrays_digest,
    export_arrays,
    write_model,
)
from models.refund_abuse.replay import Dataset, dataset
from models.refund_abuse.simulator import SimulationConfig, Traffic, read_jsonl, simulate

ESTIMATOR_FILE = "estimator.skops"
SUPERVISED_FILE = "supervised.skops"
QUANTILES = 101  # percentiles 0..100 of each feature, for the reasons' rarity ranking


@dataclass(frozen=True)
class Guards:
    """How the training sample resists masking (see `training_sample`)."""

    exclude_known_abusers: bool = True
    dedupe_decimals: int | None = 1
    per_customer: int | None = 20
    per_customer_day: int | None = 2
    per_identity: int | None = 20

    @classmethod
    def off(cls) -> Guards:
        return cls(False, None, None, None, None)


@dataclass(frozen=True)
class TrainConfig:
    seed: int = 7
    months: int = 5
    customers: int = 10000
    warmup_months: int = 1
    trees: int = 200
    max_samples: int = 512
    review_share: float = 0.02
    block_share: float = 0.003
    guards: Guards = field(default_factory=Guards)
    precision_target: float = 0.5
    boost: supervised.BoostConfig = field(default_factory=supervised.BoostConfig)

    def simulation(self) -> SimulationConfig:
        return SimulationConfig(seed=self.seed, months=self.months, honest_customers=self.customers)


@dataclass(frozen=True)
class SampleStats:
    window_rows: int
    known_abuser_rows: int
    near_duplicates: int
    capped: int
    sample_rows: int


def training_sample(data: Dataset, guards: Guards, seed: int) -> tuple[np.ndarray, SampleStats]:
    """Indices of the rows the forest is fitted on.

    An isolation forest learns what is normal from density: a fraud ring or a bot that
    repeats one abusive pattern thousands of times makes that pattern dense, and so normal
    ("masking"). Guards, in order:

    * rows of customers analysts already confirmed as abusers are left out (train on data
      believed clean);
    * near-identical rows of one customer (features rounded to `dedupe_decimals`) count
      once: a bot's thousand identical orders become one row;
    * at most `per_customer` rows per customer, `per_customer_day` per customer and day,
      and `per_identity` per device or payment fingerprint, so no burst, heavy account or
      ring can dominate; rows are visited in a seeded random order so caps keep a fair
      spread over time;
    * each tree then sees only `max_samples` rows (a small subsample, as the isolation forest
      paper recommends against masking and swamping).
    """
    keep = np.ones(len(data), dtype=bool)
    known = 0
    if guards.exclude_known_abusers:
        known = int(data.known_abuser.sum())
        keep &= ~data.known_abuser
    order = np.random.default_rng([seed, 0x7A]).permutation(np.flatnonzero(keep))
    seen: set[tuple[Any, ...]] = set()
    counts: dict[tuple[Any, ...], int] = {}
    chosen, duplicates, capped = [], 0, 0
    for i in order:
        customer = data.customer_ids[i]
        if guards.dedupe_decimals is not None:
            key = (customer, *np.round(data.X[i], guards.dedupe_decimals).tolist())
            if key in seen:
                duplicates += 1
                continue
            seen.add(key)
        limits: list[tuple[tuple[Any, ...], int | None]] = [
            (("customer", customer), guards.per_customer),
            (("day", customer, int(data.days[i])), guards.per_customer_day),
        ]
        for kind, identity in (("device", data.devices[i]), ("payment", data.payments[i])):
            if identity is not None:
                limits.append(((kind, identity), guards.per_identity))
        if any(limit is not None and counts.get(key, 0) >= limit for key, limit in limits):
            capped += 1
            continue
        for key, _ in limits:
            counts[key] = counts.get(key, 0) + 1
        chosen.append(i)
    index = np.sort(np.asarray(chosen, dtype=np.intp))
    return index, SampleStats(len(data), known, duplicates, capped, len(index))


def fit(X: np.ndarray, config: TrainConfig) -> Pipeline:
    forest = IsolationForest(
        n_estimators=config.trees,
        max_samples=min(config.max_samples, len(X)),
        contamination="auto",
        random_state=config.seed,
    )
    return Pipeline([("scale", StandardScaler()), ("forest", forest)]).fit(X)


def risk_scores(estimator: Pipeline, X: np.ndarray) -> np.ndarray:
    """The anomaly score in (0, 1], higher is riskier: the opposite of `score_samples`."""
    return -estimator.score_samples(X)


def thresholds(risk: np.ndarray, review_share: float, block_share: float) -> dict[str, Any]:
    """Risk scores above which `review_share` / `block_share` of the traffic would fall."""
    return {
        "review": float(np.quantile(risk, 1.0 - review_share)),
        "block": float(np.quantile(risk, 1.0 - block_share)),
        "review_share": review_share,
        "block_share": block_share,
        "computed_on_purchases": int(len(risk)),
    }


def feature_quantiles(X: np.ndarray) -> dict[str, list[float]]:
    """Percentiles of every feature over the training traffic (rounded: they only rank
    how rare a value is when writing reasons)."""
    points = np.quantile(X, np.linspace(0, 1, QUANTILES), axis=0)
    return {
        name: [round(float(v), 5) for v in points[:, j]] for j, name in enumerate(FEATURE_NAMES)
    }


def training_window(data: Dataset, warmup_months: int) -> Dataset:
    return data.rows(data.months >= warmup_months)


@dataclass(frozen=True)
class Trained:
    estimator: Pipeline
    arrays: dict[str, np.ndarray]
    metadata: dict[str, Any]
    window: Dataset
    sample: np.ndarray
    supervised: GradientBoostingClassifier | None = None


@dataclass(frozen=True)
class Layer:
    """The supervised layer fitted on the labels, with the risk and thresholds it implies."""

    model: GradientBoostingClassifier
    arrays: dict[str, np.ndarray]
    thresholds: dict[str, Any]
    metadata: dict[str, Any]


def supervised_layer(
    config: TrainConfig, estimator: Pipeline, window: Dataset, labels: labelled.Labels
) -> Layer:
    """Steps 6 and 7: fit on the base traffic and the training labels, tune thresholds."""
    held_out = labelled.held_out(labels.order_ids)
    training = labels.rows(~held_out)
    rows = supervised.supervised_rows(
        window.X,
        window.order_ids,
        window.known_abuser,
        training.X,
        training.order_ids,
        training.rejected,
        labels.rows(held_out).order_ids,
    )
    boost = replace(config.boost, seed=config.seed)
    model = supervised.fit(risk_scores(estimator, rows.X), rows, boost)

    def risk(X: np.ndarray) -> np.ndarray:
        return np.asarray(supervised.probability(model, risk_scores(estimator, X), X))

    limits = labelled.tuned_thresholds(
        risk(window.X),
        risk(training.X),
        training.rejected,
        config.review_share,
        config.block_share,
        config.precision_target,
    )
    described = supervised.describe(model, rows, boost) | {
        "labels": {
            "training": len(training),
            "held_out": int(held_out.sum()),
            "without_features": labels.skipped,
        }
    }
    return Layer(model, supervised.export_arrays(model), limits, described)


def train(
    config: TrainConfig, traffic: Traffic | None = None, labels: labelled.Labels | None = None
) -> Trained:
    """Fit and describe a model; nothing is written (see `save`)."""
    traffic = traffic if traffic is not None else simulate(config.simulation())
    window = training_window(dataset(traffic), config.warmup_months)
    if not len(window):
        raise ValueError("no purchases after the warm-up months to train on")
    index, stats = training_sample(window, config.guards, config.seed)
    estimator = fit(window.X[index], config)
    arrays = export_arrays(estimator)
    risk = risk_scores(estimator, window.X)
    limits = thresholds(risk, config.review_share, config.block_share)
    layer = supervised_layer(config, estimator, window, labels) if labels else None
    if layer is not None:
        arrays |= layer.arrays
        limits = layer.thresholds
    digest = arrays_digest(arrays)
    sample = window.X[index]
    metadata: dict[str, Any] = {
        "model_version": f"refund-abuse-{digest[:12]}",
        "arrays_sha256": digest,
        "score": "risk = -score_samples of the pipeline, in (0, 1]; higher is riskier"
        if layer is None
        else "risk = probability of abuse of the supervised layer over [anomaly score, "
        "features], in (0, 1); the anomaly score is -score_samples of the pipeline",
        "feature_names": list(FEATURE_NAMES),
        "feature_descriptions": {name: FEATURE_DESCRIPTIONS[name] for name in FEATURE_NAMES},
        "thresholds": limits,
        "feature_quantiles": feature_quantiles(window.X),
        "estimator": {
            "pipeline": ["StandardScaler", "IsolationForest"],
            "n_estimators": config.trees,
            "max_samples": int(estimator[-1].max_samples_),
            "contamination": "auto",
            "random_state": config.seed,
        },
        "training_data": {
            "traffic": traffic.summary(),
            "warmup_months": config.warmup_months,
            "window_purchases": stats.window_rows,
            "left_out_known_abuser_rows": stats.known_abuser_rows,
            "near_duplicates_dropped": stats.near_duplicates,
            "capped_rows_dropped": stats.capped,
            "sample_rows": stats.sample_rows,
            "guards": asdict(config.guards),
            "sample_feature_summary": {
                name: {
                    "mean": round(float(sample[:, j].mean()), 5),
                    "p50": round(float(np.median(sample[:, j])), 5),
                    "p99": round(float(np.quantile(sample[:, j], 0.99)), 5),
                }
                for j, name in enumerate(FEATURE_NAMES)
            },
        },
        "libraries": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scikit-learn": version("scikit-learn"),
            "skops": version("skops"),
        },
    }
    if layer is not None:
        metadata["supervised"] = layer.metadata
    return Trained(estimator, arrays, metadata, window, index, layer.model if layer else None)


def save(trained: Trained, model_dir: Path, artifacts: Path) -> None:
    """Export the model layer and save the estimator with skops next to its metadata."""
    import skops.io

    write_model(model_dir, trained.arrays, trained.metadata)
    artifacts.mkdir(parents=True, exist_ok=True)
    for estimator, name in (
        (trained.estimator, ESTIMATOR_FILE),
        (trained.supervised, SUPERVISED_FILE),
    ):
        if estimator is None:
            (artifacts / name).unlink(missing_ok=True)
            continue
        skops.io.dump(
            estimator, artifacts / name, compression=zipfile.ZIP_DEFLATED, compresslevel=9
        )
    (artifacts / METADATA_FILE).write_text(
        json.dumps(trained.metadata, indent=2, sort_keys=True) + "\n"
    )


def run(args: argparse.Namespace) -> int:
    config = TrainConfig(
        seed=args.seed,
        months=args.months,
        customers=args.customers,
        trees=args.trees,
        max_samples=args.max_samples,
        review_share=args.review_share,
        block_share=args.block_share,
        precision_target=args.precision_target,
    )
    traffic = read_jsonl(args.traffic) if args.traffic else None
    labels = labelled.load(args.labels) if args.labels else None
    if labels is not None and not len(labels):
        raise SystemExit("the labels hold no decided case with features")
    trained = train(config, traffic, labels)
    model_dir, artifacts = args.model_dir or MODEL_LAYER, args.artifacts or ARTIFACTS
    save(trained, model_dir, artifacts)
    meta = trained.metadata
    data = meta["training_data"]
    print(
        f"model {meta['model_version']}: {config.trees} trees of "
        f"{meta['estimator']['max_samples']} rows, {data['sample_rows']} sample rows of "
        f"{data['window_purchases']} purchases"
    )
    print(
        f"thresholds: review at risk >= {meta['thresholds']['review']:.4f} "
        f"({config.review_share:.1%}), block at >= {meta['thresholds']['block']:.4f} "
        f"({config.block_share:.1%})"
    )
    if "supervised" in meta:
        print(f"supervised layer: {json.dumps(meta['supervised']['labels'])}")
        print(f"thresholds from labels: {json.dumps(meta['thresholds']['from_labels'])}")
    print(f"wrote {model_dir} and {artifacts / ESTIMATOR_FILE}")
    return 0


def main(argv: list[str] | None = None) -> int:
    return run(parser_for("train").parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
