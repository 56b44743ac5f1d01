"""Finding 11: no Hypothesis test depends on the machine's speed."""

import ast
from pathlib import Path

from hypothesis import settings

TESTS = Path(__file__).resolve().parents[1]


def test_the_loaded_profile_has_no_deadline() -> None:
    assert settings.default.deadline is None
    assert settings.get_profile("ci").deadline is None
    assert settings.get_profile("ci").derandomize


def test_no_test_sets_a_deadline_back() -> None:
    offenders = []
    for path in TESTS.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.keyword)
                and node.arg == "deadline"
                and not (isinstance(node.value, ast.Constant) and node.value.value is None)
            ):
                offenders.append(f"{path.relative_to(TESTS)}:{node.value.lineno}")
    assert offenders == []
