"""What scoring one purchase costs, and what the risk modules add to a cold start.

    python -m bench.scoring [--repeats 7]

1. Single-purchase scoring of the shipped model: the numpy runtime scorer
   (`cashback.domain.risk.load_scorer()`) against scikit-learn's `score_samples` on one row of the
   same fitted pipeline (loaded with skops), on the same row, after a warm-up; each the
   median over several timed batches. The full `decide()` (features, rules, score, reasons)
   is shown for context. The issue asks for the runtime to be at least 100x faster.
2. Import time in fresh interpreters (median of several): `import boto3` alone against the
   risk runtime modules, and against those modules plus loading the model, as a Lambda
   cold start would.

Timings are printed, never asserted: they depend on the machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODEL_DIR = ROOT / "layers" / "model" / "python" / "cashback_model"
ESTIMATOR = ROOT / "models" / "refund_abuse" / "artifacts" / "estimator.skops"
GOAL = 100.0
ACCRUAL = ROOT / "functions" / "accrual" / "app.py"

_RISK = (
    "import cashback.domain.risk, cashback.domain.risk.features, "
    "cashback.domain.risk.decision, cashback.domain.risk.scorer"
)
_ACCRUAL = (
    "import os; os.environ.setdefault('TABLE_NAME', 'cashback-bench'); "
    "os.environ.setdefault('AWS_DEFAULT_REGION', 'us-east-1'); "
    "os.environ.setdefault('POWERTOOLS_TRACE_DISABLED', 'true'); "
    "import importlib.util; "
    f"spec = importlib.util.spec_from_file_location('app', {str(ACCRUAL)!r}); "
    "app = importlib.util.module_from_spec(spec); spec.loader.exec_module(app); "
    "from cashback import runtime; runtime.scorer()"
)
IMPORTS = {
    "import boto3": "import boto3",
    "import cashback.domain.risk runtime modules (features, decision, scorer)": _RISK,
    "... plus load_scorer() (numpy, model.npz, metadata)": _RISK
    + "; cashback.domain.risk.load_scorer()",
    "import boto3 and the risk modules, load_scorer()": (
        "import boto3, cashback.domain.risk, cashback.domain.risk.decision; "
        "cashback.domain.risk.load_scorer()"
    ),
    "import the accrual handler (functions/accrual/app.py), load the model": _ACCRUAL,
}
PROBE = "import time; t = time.perf_counter(); {code}; print(time.perf_counter() - t)"


def per_call(function: Callable[[], object], calls: int, repeats: int) -> float:
    """Median seconds per call over `repeats` batches of `calls` calls."""
    for _ in range(max(1, calls // 10)):
        function()
    batches = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            function()
        batches.append((time.perf_counter() - start) / calls)
    return statistics.median(batches)


def import_seconds(code: str, repeats: int) -> float:
    env = {**os.environ, "CASHBACK_MODEL_DIR": str(MODEL_DIR)}
    runs = []
    for _ in range(repeats):
        out = subprocess.run(
            [sys.executable, "-c", PROBE.format(code=code)],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        runs.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(runs)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.scoring", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    if not (MODEL_DIR / "model.npz").is_file() or not ESTIMATOR.is_file():
        print("no trained model: run `python -m models.refund_abuse.train` first", file=sys.stderr)
        return 2

    import numpy as np
    import sklearn

    from cashback.domain.risk import (
        CustomerAggregates,
        PurchaseFacts,
        SharedCounts,
        decide,
        features,
        load_estimator,
        load_scorer,
    )

    scorer = load_scorer(MODEL_DIR)
    estimator = load_estimator(ESTIMATOR)
    at = datetime(2026, 3, 1, 12, tzinfo=UTC)
    order = PurchaseFacts("o1", "c1", 25_990, 1_299, at, at + timedelta(days=14))
    aggregates = CustomerAggregates("c1")
    row = features(aggregates, order, at, SharedCounts())
    one = np.asarray([row])
    runtime_score = float(scorer.score_samples(one)[0])
    sklearn_score = float(estimator.score_samples(one)[0])

    runtime = per_call(lambda: scorer.score_samples(one), 2000, args.repeats)
    reference = per_call(lambda: estimator.score_samples(one), 40, args.repeats)
    decision = per_call(
        lambda: decide(order, aggregates, SharedCounts(), at, scorer), 1000, args.repeats
    )
    ratio = reference / runtime

    imports = {label: import_seconds(code, args.repeats) for label, code in IMPORTS.items()}
    boto3 = imports["import boto3"]

    print(
        f"Machine: {machine()}; numpy {np.__version__}, scikit-learn {sklearn.__version__}; "
        f"model `{scorer.model_version}` ({scorer.n_trees} trees, "
        f"{scorer.metadata['estimator']['max_samples']} samples each)."
    )
    print()
    print("| Single-purchase scoring (one row) | median per call | vs sklearn |")
    print("|---|--:|--:|")
    print(f"| sklearn `Pipeline.score_samples` | {reference * 1e6:,.0f} us | 1x |")
    print(
        f"| runtime scorer `score_samples` (numpy) | {runtime * 1e6:,.1f} us | "
        f"{ratio:,.0f}x faster |"
    )
    print(
        f"| full `decide()`: features, rules, score, reasons | {decision * 1e6:,.1f} us | "
        f"{reference / decision:,.0f}x faster |"
    )
    print()
    print(
        f"Same score: runtime {runtime_score!r}, sklearn {sklearn_score!r} "
        f"(difference {abs(runtime_score - sklearn_score):.1e}). Goal: >= {GOAL:.0f}x: "
        f"{'met' if ratio >= GOAL else 'NOT met'}."
    )
    print()
    print(f"| Import in a fresh interpreter (median of {args.repeats}) | time | vs boto3 |")
    print("|---|--:|--:|")
    for label, seconds in imports.items():
        print(f"| {label} | {seconds * 1e3:,.1f} ms | {seconds / boto3:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
