"""`cashback model train|evaluate|backtest|labels`: the refund-abuse model's tooling.

The options are defined here once, and used both by `cashback model ...` (through
`register`) and by `python -m models.refund_abuse.<command>`. The work itself lives in the
`models.refund_abuse` package of the project checkout, which is tooling, not part of the
layer: it is imported only when a command runs, so building the parser stays cheap and the
request path never sees scikit-learn. `labels` reads the table instead (labels.py).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

TOOLING = "models.refund_abuse"


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--seed", type=int, default=7, help="simulator seed of the training traffic"
    )
    parser.add_argument(
        "--months", type=int, default=5, help="months to simulate (the first only builds history)"
    )
    parser.add_argument("--customers", type=int, default=10000, help="honest customers")
    parser.add_argument("--trees", type=int, default=200)
    parser.add_argument("--max-samples", type=int, default=512, help="rows each tree is grown on")
    parser.add_argument(
        "--review-share",
        type=float,
        default=0.02,
        help="share of purchases the analysts can review",
    )
    parser.add_argument(
        "--block-share", type=float, default=0.003, help="share of purchases blocked outright"
    )
    parser.add_argument(
        "--traffic", type=Path, help="train on recorded traffic (JSON lines) instead of simulating"
    )
    parser.add_argument(
        "--labels",
        type=Path,
        action="append",
        help="analysts' labels (JSON lines, `cashback model labels`; repeatable): they tune "
        "the thresholds and train the supervised layer",
    )
    parser.add_argument(
        "--precision-target",
        type=float,
        default=0.5,
        help="with --labels: the review queue's precision against the labels to reach",
    )
    parser.add_argument(
        "--model-dir",
        type=Path,
        help="where to export the model layer (default: layers/model/python/cashback_model)",
    )
    parser.add_argument(
        "--artifacts",
        type=Path,
        help="where the skops estimator goes (default: models/refund_abuse/artifacts)",
    )


def add_evaluate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--seed",
        type=int,
        default=11,
        help="simulator seed of the held-out traffic (not the training seed)",
    )
    parser.add_argument(
        "--months", type=int, default=5, help="months to simulate; the last one is evaluated"
    )
    parser.add_argument("--customers", type=int, default=10000, help="honest customers")
    parser.add_argument("--model-dir", type=Path, help="exported model to evaluate")
    parser.add_argument(
        "--artifacts", type=Path, help="where report.md and the plots go, and the estimator is read"
    )
    parser.add_argument(
        "--skip-stress", action="store_true", help="skip the masking stress test (two extra fits)"
    )
    parser.add_argument(
        "--labels",
        type=Path,
        action="append",
        help="analysts' labels the model was trained with: agreement on the held-out fifth",
    )
    parser.add_argument(
        "--compare-model-dir", type=Path, help="also measure the Goal for this (current) model"
    )
    parser.add_argument("--skip-goal", action="store_true", help="skip the Goal periods (issue 11)")


def add_backtest_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--traffic", type=Path, help="recorded traffic (JSON lines); default: simulate --seed"
    )
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--months", type=int, default=5)
    parser.add_argument("--customers", type=int, default=10000, help="honest customers")
    parser.add_argument(
        "--last-days",
        type=int,
        default=30,
        help="decide the purchases of the last N days (earlier traffic only builds the aggregates)",
    )
    parser.add_argument("--model-dir", type=Path, help="the current model (default: shipped)")
    parser.add_argument(
        "--candidate-model-dir", type=Path, help="a candidate model (default: the current one)"
    )
    parser.add_argument(
        "--review-threshold", type=float, help="candidate review threshold (risk score)"
    )
    parser.add_argument(
        "--block-threshold", type=float, help="candidate block threshold (risk score)"
    )
    parser.add_argument(
        "--review-share", type=float, help="candidate: review this share of the replayed purchases"
    )
    parser.add_argument(
        "--block-share", type=float, help="candidate: block this share of the replayed purchases"
    )
    parser.add_argument(
        "--no-rules", action="store_true", help="candidate without the readable rules"
    )
    parser.add_argument("--out", type=Path, help="also write the report here (markdown)")
    parser.add_argument(
        "--decisions", type=Path, help="write every changed decision here (JSON lines)"
    )


def add_labels_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tenant", required=True, help="the storefront whose cases to export")
    parser.add_argument("--out", type=Path, help="write here instead of standard output")
    parser.add_argument("--table", help="DynamoDB table (default: $TABLE_NAME)")
    parser.add_argument(
        "--endpoint-url",
        default=os.environ.get("AWS_ENDPOINT_URL_DYNAMODB"),
        help="DynamoDB endpoint, e.g. the local stack's",
    )


COMMANDS = {
    "train": (add_train_arguments, "simulate traffic, fit the forest, export the model layer"),
    "evaluate": (add_evaluate_arguments, "score a held-out month; write report.md and plots"),
    "backtest": (add_backtest_arguments, "replay traffic under a candidate model or thresholds"),
    "labels": (add_labels_arguments, "export analysts' decided cases as labels (JSON lines)"),
}


def _tooling(command: str) -> ModuleType:
    """models.refund_abuse.<command>, from the checkout the command runs in."""
    name = f"{TOOLING}.{command}"
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name not in ("models", TOOLING, name):
            raise
    for base in (Path.cwd(), *Path.cwd().parents):
        if (base / "models" / "refund_abuse" / "__init__.py").is_file():
            # Tooling only: the checkout is not an installed package.
            sys.path.insert(0, str(base))
            return importlib.import_module(name)
    raise SystemExit(
        "cashback model: run this from the project checkout (models/refund_abuse not found)"
    )


def _run(args: argparse.Namespace) -> int:
    if args.model_command == "labels":
        from cashback_tools import cli, labels

        # The same table access as every operator command (--table, --endpoint-url).
        return labels.run(args, cli._store(args))
    return int(_tooling(args.model_command).run(args))


def register(subparsers: Any) -> None:
    """Add `model train|evaluate|backtest` to the `cashback` command's subparsers."""
    model = subparsers.add_parser("model", help="the refund-abuse model")
    commands = model.add_subparsers(dest="model_command", required=True)
    for name, (add_arguments, help_text) in COMMANDS.items():
        parser = commands.add_parser(name, help=help_text, description=help_text)
        add_arguments(parser)
        parser.set_defaults(run=_run)


def parser_for(command: str) -> argparse.ArgumentParser:
    """The parser of `python -m models.refund_abuse.<command>`."""
    add_arguments, help_text = COMMANDS[command]
    parser = argparse.ArgumentParser(prog=f"python -m {TOOLING}.{command}", description=help_text)
    add_arguments(parser)
    return parser
