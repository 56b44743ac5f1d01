"""The house's rules, checked: each room imports only what its place in the architecture
allows, the Lambda layer holds only what Lambda runs, and no file or function grows past
what a reader takes in at once.

    handlers (functions/*/app.py), routes (the Routers they include)
        -> runtime, api, services -> domain
    adapters -> domain                (never services, api or the handlers)
    runtime (the composition root) wires adapters into services
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "layers" / "cashback" / "python"
PACKAGE = LAYER / "cashback"
TOOLS = ROOT / "tools" / "cashback_tools"
HANDLERS = sorted((ROOT / "functions").glob("*/app.py"))

MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 60
# The demo is a script: one long story, read top to bottom.
LONG_ALLOWED = {TOOLS / "local" / "demo.py"}

# What each room of the layer may import from the package (besides itself).
ALLOWED = {
    "domain": {"domain"},
    "adapters": {"domain", "adapters", "config", "observability"},
    "services": {"domain", "services", "observability"},
    "api": {"domain", "api", "observability"},
    # Route modules a handler includes (issue 11): the handler's edge, split by topic.
    "routes": {"domain", "api", "services", "runtime", "observability"},
}
# Modules no handler reaches yet, each with the reason it is kept.
NOT_YET_USED: set[str] = set()


def module_name(path: Path, base: Path) -> str:
    parts = list(path.relative_to(base).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_modules() -> dict[str, Path]:
    return {module_name(p, LAYER): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports(path: Path) -> Iterator[str]:
    """Every module `path` imports, at the top or inside functions (lazy imports count)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module_name(path, LAYER).rsplit(".", 1)[0] if path.is_relative_to(LAYER) else ""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def own_imports(path: Path, modules: dict[str, Path]) -> set[str]:
    return {name for name in imports(path) if name in modules}


@pytest.mark.parametrize("name", sorted(ALLOWED))
def test_each_room_imports_only_what_it_may(name: str) -> None:
    modules = layer_modules()
    wrong = {
        f"{module} imports {imported}"
        for module, path in modules.items()
        if room(module) == name
        for imported in own_imports(path, modules)
        if room(imported) not in ALLOWED[name] and imported != "cashback"
    }
    assert not wrong, sorted(wrong)


def test_the_domain_never_touches_aws_or_http() -> None:
    modules = layer_modules()
    wrong = {
        f"{module} imports {imported}"
        for module, path in modules.items()
        if room(module) == "domain"
        for imported in imports(path)
        if imported.split(".")[0] in {"boto3", "botocore", "aws_lambda_powertools", "urllib"}
    }
    assert not wrong, sorted(wrong)


def test_nothing_in_the_layer_imports_the_tools() -> None:
    wrong = {
        f"{module} imports {imported}"
        for module, path in layer_modules().items()
        for imported in imports(path)
        if imported.split(".")[0] == "cashback_tools"
    }
    assert not wrong, sorted(wrong)


def test_the_layer_holds_only_what_the_handlers_run() -> None:
    """Every module of the layer is reached from some handler (lazy imports included): the
    layer ships no development tooling and no dead code."""
    modules = layer_modules()
    reached: set[str] = set()
    todo = [name for handler in HANDLERS for name in imports(handler) if name in modules]
    while todo:
        module = todo.pop()
        if module in reached:
            continue
        reached.add(module)
        parents = module.split(".")
        todo += [".".join(parents[:i]) for i in range(1, len(parents))]
        todo += own_imports(modules[module], modules)
    assert set(modules) - reached == NOT_YET_USED


def test_every_package_says_what_it_is_for() -> None:
    undocumented = [
        str(init.relative_to(ROOT))
        for base in (PACKAGE, TOOLS)
        for init in base.rglob("__init__.py")
        if not ast.get_docstring(ast.parse(init.read_text()))
    ]
    assert not undocumented


def sources() -> list[Path]:
    return [*PACKAGE.rglob("*.py"), *TOOLS.rglob("*.py"), *HANDLERS]


def test_no_file_is_longer_than_a_reader_takes_in() -> None:
    long = {
        str(path.relative_to(ROOT)): lines
        for path in sources()
        if path not in LONG_ALLOWED
        and (lines := len(path.read_text().splitlines())) > MAX_FILE_LINES
    }
    assert not long, long


def test_no_function_is_longer_than_a_screen() -> None:
    long = {}
    for path in sources():
        if path in LONG_ALLOWED:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                assert node.end_lineno is not None
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long[f"{path.relative_to(ROOT)}:{node.lineno} {node.name}"] = lines
    assert not long, long
