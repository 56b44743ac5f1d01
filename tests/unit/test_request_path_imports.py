"""The request path never imports scikit-learn or scipy (Lambda's 250 MB limit, and cold
starts): each handler is imported in a fresh interpreter and its modules inspected. And each
function starts with only what its layers and the Lambda runtime give it."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cashback_tools.local import build
from cashback_tools.local.template import load_template

ROOT = Path(__file__).resolve().parents[2]
HANDLERS = sorted(p.parent.name for p in (ROOT / "functions").glob("*/app.py"))


@pytest.mark.parametrize("job", HANDLERS)
def test_handler_import_pulls_in_no_scikit_learn_or_scipy(job: str) -> None:
    handler = str(ROOT / "functions" / job / "app.py")
    code = (
        "import importlib.util, json, sys\n"
        f"spec = importlib.util.spec_from_file_location('app', {handler!r})\n"
        "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)\n"
        # and what the first purchase loads: the model, scored with numpy alone
        "from cashback import runtime; assert runtime.scorer() is not None\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('sklearn', 'scipy', 'skops', 'joblib'))))\n"
    )
    env = {
        **os.environ,
        "TABLE_NAME": "cashback-imports",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


# Each function of template.yaml as Lambda starts it: a fresh interpreter without site (so
# nothing of this virtual environment) whose path is the function's CodeUri, the layers the
# template gives it (built as `sam build` builds them, cashback_tools.local.build) and the Lambda
# runtime's boto3, then the standard library.
TEMPLATE = load_template(ROOT / "template.yaml")
FUNCTIONS = TEMPLATE.functions()
_STARTUP = """\
import importlib, json, os, sys
sys.path[:0] = json.loads(sys.argv[1])
module, _, name = os.environ["_HANDLER"].rpartition(".")
handler = getattr(importlib.import_module(module), name)
assert callable(handler)
seen = {"numpy": "numpy" in sys.modules}
try:
    import numpy  # noqa: F401
    seen["numpy_importable"] = True
except ImportError:
    seen["numpy_importable"] = False
from cashback import runtime
seen["scorer"] = runtime.scorer() is not None
seen["files"] = sorted({getattr(m, "__file__", None) or "" for m in list(sys.modules.values())})
print(json.dumps(seen))
"""


@pytest.fixture(scope="module")
def built() -> None:
    build.ensure_for(TEMPLATE, quiet=True)


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_each_function_starts_with_only_its_own_layers(built: None, function: str) -> None:
    spec = FUNCTIONS[function]
    path = build.function_path(TEMPLATE, spec)
    env = {
        "TABLE_NAME": "cashback-imports",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "_HANDLER": spec.handler,
        "PATH": os.environ.get("PATH", ""),
    }
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", _STARTUP, json.dumps(path)],
        capture_output=True,
        text=True,
        env=env,
        cwd=spec.code_dir,
        check=False,
        timeout=120,
    )

    assert result.returncode == 0, f"{function} cannot start on Lambda:\n{result.stderr}"
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    has_model = "ModelLayer" in spec.layers
    assert seen["numpy_importable"] is has_model
    assert seen["numpy"] is False  # importing a handler never loads numpy: the scorer does
    assert seen["scorer"] is has_model  # the accrual function scores with its model layer
    venv = str(Path(sys.prefix) / "lib")
    assert not [file for file in seen["files"] if file.startswith(venv)]


def test_the_shared_layer_carries_no_second_botocore_and_fits_its_budget(built: None) -> None:
    layer = build.layer_path(TEMPLATE, "CashbackLayer")
    installed = {entry.name.split("-")[0].lower() for entry in layer.iterdir()}
    files = [
        Path(folder) / name
        for folder, _, names in os.walk(layer, followlinks=True)
        if "__pycache__" not in Path(folder).parts
        for name in names
    ]

    assert not installed & {"boto3", "botocore", "s3transfer", "urllib3", "dateutil"}
    assert {"aws_xray_sdk", "aws_lambda_powertools", "cashback"} <= installed
    # Built for this machine rather than arm64, which is near enough for the budget
    # (bench/layers.py measures the arm64 build: see the README).
    assert any(file.name == "runtime.py" and file.parent.name == "cashback" for file in files)
    assert sum(file.stat().st_size for file in files) <= 15 * 1024 * 1024
