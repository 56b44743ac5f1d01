"""Size of each Lambda layer as `sam build` builds it for the deployment (arm64, Python 3.12).

Each layer of template.yaml is built in a scratch folder the way its `Metadata.BuildMethod`
says: `makefile` runs the layer's own `make build-<LogicalId>` (which picks the Lambda
platform's wheels), a runtime (`python3.12`) copies the ContentUri and pip-installs its
`requirements.txt` for that platform. Printed: files, bytes unzipped (what counts against
Lambda's 250 MB for a function and its layers) and zipped (deflate, as the upload). The
shared layer's budget is 15 MB unzipped; `--baseline` also builds it as it was before issue 8
(`aws-lambda-powertools[tracer]` with its own botocore). Exit status 1 when over budget.

    python -m bench.layers [--baseline]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from cashback_tools.local.template import LayerSpec, load_template

ROOT = Path(__file__).resolve().parents[1]
MB = 1024 * 1024
BUDGETS = {"CashbackLayer": 15 * MB}
LAMBDA_LIMIT = 250 * MB
LAMBDA_PLATFORM = [
    "--platform",
    "manylinux2014_aarch64",
    "--platform",
    "manylinux_2_28_aarch64",
    "--implementation",
    "cp",
    "--python-version",
    "3.12",
    "--only-binary=:all:",
]
# The shared layer's requirements.txt before issue 8 (BuildMethod python3.12).
BASELINE = [
    "aws-lambda-powertools[tracer]==3.37.0",
    "pydantic==2.14.3",
    "pydantic-settings==2.16.3",
    "tzdata==2026.6",
]


def pip_install(target: Path, arguments: list[str]) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-compile",
            "--target",
            str(target),
            *LAMBDA_PLATFORM,
            *arguments,
        ],
        check=True,
    )


def build_layer(layer: LayerSpec, artifacts: Path) -> Path:
    """The layer's python/ folder as `sam build` would leave it in artifacts."""
    if layer.build_method == "makefile":
        subprocess.run(
            [
                "make",
                "--no-print-directory",
                "-s",
                "-C",
                str(layer.content_dir),
                f"build-{layer.logical_id}",
                f"ARTIFACTS_DIR={artifacts}",
                f"PYTHON={sys.executable}",
            ],
            check=True,
        )
        return artifacts / "python"
    if layer.build_method is None:
        shutil.copytree(layer.content_dir, artifacts, dirs_exist_ok=True)
        return artifacts / "python"
    python = artifacts / "python"
    shutil.copytree(layer.content_dir, python, ignore=shutil.ignore_patterns("__pycache__"))
    if (layer.content_dir / "requirements.txt").is_file():
        pip_install(python, ["-r", str(layer.content_dir / "requirements.txt")])
    return python


def measure(python: Path) -> tuple[int, int, int]:
    """(files, bytes unzipped, bytes zipped) of a layer whose zip holds python/..."""
    files = [
        Path(folder) / name
        for folder, _, names in os.walk(python)
        if "__pycache__" not in Path(folder).parts
        for name in names
    ]
    with tempfile.TemporaryDirectory() as scratch:
        archive = Path(scratch) / "layer.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
            for file in files:
                zipped.write(file, Path("python") / file.relative_to(python))
        zipped_size = archive.stat().st_size
    return len(files), sum(file.stat().st_size for file in files), zipped_size


def biggest(python: Path, count: int = 4) -> str:
    sizes = []
    for entry in python.iterdir():
        if entry.name.endswith(".dist-info"):
            continue
        total = (
            entry.stat().st_size
            if entry.is_file()
            else sum(
                (Path(folder) / name).stat().st_size
                for folder, _, names in os.walk(entry)
                for name in names
            )
        )
        sizes.append((total, entry.name))
    return ", ".join(f"{name} {size / MB:.1f}" for size, name in sorted(sizes)[::-1][:count])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--baseline",
        action="store_true",
        help="also build the shared layer as it was before issue 8",
    )
    args = parser.parse_args(argv)
    template = load_template(ROOT / "template.yaml")
    rows, sizes, over = [], {}, False
    with tempfile.TemporaryDirectory() as scratch:
        for layer in template.layers().values():
            python = build_layer(layer, Path(scratch) / layer.logical_id)
            files, unzipped, zipped = measure(python)
            sizes[layer.logical_id] = unzipped
            budget = BUDGETS.get(layer.logical_id)
            verdict = (
                ""
                if budget is None
                else (f"<= {budget / MB:.0f} MB: {'ok' if unzipped <= budget else 'OVER'}")
            )
            over |= budget is not None and unzipped > budget
            rows.append(
                (
                    f"{layer.logical_id} ({layer.build_method})",
                    files,
                    unzipped,
                    zipped,
                    verdict,
                    biggest(python),
                )
            )
        if args.baseline:
            python = Path(scratch) / "baseline" / "python"
            shutil.copytree(
                ROOT / "layers" / "cashback" / "python" / "cashback",
                python / "cashback",
                ignore=shutil.ignore_patterns("__pycache__"),
            )
            pip_install(python, BASELINE)
            files, unzipped, zipped = measure(python)
            rows.append(
                (
                    "CashbackLayer before issue 8 (python3.12, powertools[tracer])",
                    files,
                    unzipped,
                    zipped,
                    "",
                    biggest(python),
                )
            )
    print("Layers built for Lambda (arm64, Python 3.12) as `sam build` builds them:\n")
    print("| layer (build method) | files | unzipped | zipped | budget | largest (MB) |")
    print("|---|--:|--:|--:|---|---|")
    for name, files, unzipped, zipped, verdict, largest in rows:
        print(
            f"| {name} | {files:,} | {unzipped / MB:.2f} MB ({unzipped:,} B) | "
            f"{zipped / MB:.2f} MB ({zipped:,} B) | {verdict} | {largest} |"
        )
    print()
    for name, spec in template.functions().items():
        code = sum(
            (Path(folder) / file).stat().st_size
            for folder, _, files in os.walk(spec.code_dir)
            if "__pycache__" not in folder
            for file in files
        )
        total = code + sum(sizes.get(layer, 0) for layer in spec.layers)
        print(
            f"{name}: code and layers {total / MB:.1f} MB unzipped of Lambda's "
            f"{LAMBDA_LIMIT / MB:.0f} MB"
        )
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
