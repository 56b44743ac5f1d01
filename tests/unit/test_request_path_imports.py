"""The request path never imports scikit-learn or scipy (Lambda's 250 MB limit, and cold
starts): each handler is imported in a fresh interpreter and its modules inspected."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

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
    env = {**os.environ, "TABLE_NAME": "cashback-imports", "AWS_DEFAULT_REGION": "us-east-1",
           "POWERTOOLS_TRACE_DISABLED": "true"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=env, check=False, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
