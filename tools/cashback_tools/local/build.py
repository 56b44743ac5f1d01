"""The local stack's Lambda build: each layer as `sam build` builds it, and the runtime's boto3.

- `build/lambda/layers/<LayerLogicalId>/python/` beside the template: for `BuildMethod:
  python3.x` the layer's `requirements.txt` installed there (pip, pinned by constraints.txt)
  next to the ContentUri's files; for `BuildMethod: makefile` the layer's own Makefile target
  `build-<LogicalId>` (the one `sam build` runs), with wheels for this machine instead of
  Lambda's. The ContentUri's own files and folders (the `cashback` package) are then symlinks
  to the sources, so an edit shows without a rebuild; a new top-level file needs one.
- `build/lambda/runtime/` beside the project: what the Lambda Python runtime provides
  (boto3 and its dependencies), at the versions of constraints.txt.

Each is rebuilt only when what it is built from changes (a stamp of the requirements files,
the Makefile, constraints.txt and the interpreter). `make layers` runs this module.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from cashback_tools.local.template import FunctionSpec, LayerSpec, Template, load_template

# layers/cashback/python/tools/cashback_tools/local/build.py -> the project's root
PROJECT_ROOT = Path(__file__).resolve().parents[3]
BUILD_FORMAT = "1"  # bump to rebuild everything after a change to how this module builds
RUNTIME_PACKAGES = ("boto3",)  # what the Lambda Python runtime ships besides the stdlib
_SOURCES_EXCLUDED = {"Makefile", "__pycache__"}


class BuildError(RuntimeError):
    """A layer or the runtime folder could not be built."""


def build_root(directory: Path) -> Path:
    return directory / "build" / "lambda"


def layer_path(template: Template, layer_id: str) -> Path:
    """Where a layer's files are for the worker (Lambda's /opt/python)."""
    layer = template.layers().get(layer_id)
    if layer is not None and layer.build_method is None:
        return layer.content_dir / "python"  # not built by SAM: ContentUri is the layer
    return build_root(template.directory) / "layers" / layer_id / "python"


def runtime_path(root: Path = PROJECT_ROOT) -> Path:
    return build_root(root) / "runtime"


def constraints_file(root: Path = PROJECT_ROOT) -> Path:
    return root / "constraints.txt"


def function_path(template: Template, spec: FunctionSpec, runtime: Path | None = None) -> list[str]:
    """A function's import path on Lambda, before the standard library: its code, its layers
    (Lambda unpacks them into /opt in order, a later one overwriting an earlier one, so the
    later comes first here), then the runtime's packages."""
    layers = [layer_path(template, layer_id) for layer_id in reversed(spec.layers)]
    return [str(spec.code_dir), *map(str, layers), str(runtime or runtime_path())]


def ensure_runtime(root: Path = PROJECT_ROOT, *, quiet: bool = False) -> Path:
    target = runtime_path(root)
    constraints = constraints_file(root)
    inputs = [("packages", " ".join(RUNTIME_PACKAGES).encode()), _read(constraints)]
    with _locked(build_root(root)):
        if _fresh(target, inputs):
            return target
        _say(f"building the Lambda runtime's packages into {target}", quiet)
        with _rebuild(target, inputs) as scratch:
            _pip(["--target", str(scratch), *RUNTIME_PACKAGES], constraints)
    return target


def ensure_layers(
    template: Template,
    layer_ids: Iterable[str] | None = None,
    *,
    root: Path = PROJECT_ROOT,
    quiet: bool = False,
) -> dict[str, Path]:
    """Build (if stale) the template's layers, or the ones named; their python/ folders."""
    layers = template.layers()
    wanted = sorted(set(layer_ids) if layer_ids is not None else layers)
    if missing := [layer for layer in wanted if layer not in layers]:
        raise BuildError(f"layers not in the template: {missing}")
    built = {}
    for layer_id in wanted:
        built[layer_id] = _ensure_layer(template, layers[layer_id], root, quiet)
    return built


def ensure_for(
    template: Template,
    functions: Mapping[str, FunctionSpec] | None = None,
    *,
    root: Path = PROJECT_ROOT,
    quiet: bool = False,
) -> None:
    """Everything the template's functions need to run in workers."""
    specs = functions if functions is not None else template.functions()
    ensure_runtime(root, quiet=quiet)
    ensure_layers(
        template,
        {layer for spec in specs.values() for layer in spec.layers},
        root=root,
        quiet=quiet,
    )


def _ensure_layer(template: Template, layer: LayerSpec, root: Path, quiet: bool) -> Path:
    target = layer_path(template, layer.logical_id)
    source = layer.content_dir
    if layer.build_method is None:
        return target
    if not source.is_dir():
        raise BuildError(f"{layer.logical_id}: ContentUri {source} is not a folder")
    inputs = [
        ("method", layer.build_method.encode()),
        _read(constraints_file(root)),
        *(_read(file) for file in sorted(source.glob("requirements*.txt"))),
        *([_read(source / "Makefile")] if (source / "Makefile").is_file() else []),
    ]
    with _locked(build_root(template.directory)):
        if _fresh(target.parent, inputs):
            return target
        _say(f"building {layer.logical_id} ({layer.build_method}) into {target.parent}", quiet)
        with _rebuild(target.parent, inputs) as scratch:
            python = scratch / "python"
            if layer.build_method == "makefile":
                _make(layer, scratch, root)
            elif layer.build_method.startswith("python"):
                python.mkdir(parents=True)
                if (source / "requirements.txt").is_file():
                    _pip(
                        ["--target", str(python), "-r", str(source / "requirements.txt")],
                        constraints_file(root),
                    )
            else:
                raise BuildError(
                    f"{layer.logical_id}: BuildMethod {layer.build_method} cannot be built locally"
                )
            _link_sources(source, python, every=layer.build_method != "makefile")
    return target


def _link_sources(source: Path, python: Path, *, every: bool) -> None:
    """The ContentUri's own entries as symlinks to the sources (edits show at once): all of
    them for a runtime build method (SAM copies the ContentUri), for a Makefile the ones it
    copied."""
    for entry in sorted(source.iterdir()):
        if entry.name in _SOURCES_EXCLUDED:
            continue
        placed = python / entry.name
        if placed.is_symlink() or placed.is_file():
            placed.unlink()
        elif placed.is_dir():
            shutil.rmtree(placed)
        elif not every:
            continue
        placed.symlink_to(entry, target_is_directory=entry.is_dir())


def _make(layer: LayerSpec, artifacts: Path, root: Path) -> None:
    command = [
        "make",
        "--no-print-directory",
        "-C",
        str(layer.content_dir),
        f"build-{layer.logical_id}",
        f"ARTIFACTS_DIR={artifacts}",
        f"PYTHON={sys.executable}",
        "PLATFORM=",
        f"PIP_ARGS=-c {constraints_file(root)}",
    ]
    _run(command, f"make build-{layer.logical_id}")


def _pip(arguments: list[str], constraints: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",
        "-c",
        str(constraints),
        *arguments,
    ]
    _run(command, "pip install")


def _run(command: list[str], what: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BuildError(f"{what} failed ({result.returncode}):\n{result.stdout}{result.stderr}")


def _read(file: Path) -> tuple[str, bytes]:
    return (file.name, file.read_bytes() if file.is_file() else b"")


def _stamp(inputs: list[tuple[str, bytes]]) -> str:
    digest = hashlib.sha256()
    for part in [
        ("format", BUILD_FORMAT.encode()),
        ("python", f"{sys.version_info[:2]} {platform.machine()}".encode()),
        *inputs,
    ]:
        digest.update(part[0].encode() + b"\0" + hashlib.sha256(part[1]).digest())
    return digest.hexdigest()


def _fresh(folder: Path, inputs: list[tuple[str, bytes]]) -> bool:
    stamp = folder / ".stamp"
    return stamp.is_file() and stamp.read_text(encoding="utf-8").strip() == _stamp(inputs)


@contextlib.contextmanager
def _rebuild(folder: Path, inputs: list[tuple[str, bytes]]) -> Iterator[Path]:
    """Build into a scratch folder, then swap it in whole, stamped."""
    scratch = folder.with_name(folder.name + ".building")
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    try:
        yield scratch
        (scratch / ".stamp").write_text(_stamp(inputs) + "\n", encoding="utf-8")
        shutil.rmtree(folder, ignore_errors=True)
        scratch.rename(folder)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """One builder at a time per build folder (two test runs may start at once)."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _say(message: str, quiet: bool) -> None:
    if not quiet:
        print(message, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Build the template's layers and the Lambda "
        "runtime's packages for the local stack"
    )
    parser.add_argument("--template", type=Path, default=PROJECT_ROOT / "template.yaml")
    args = parser.parse_args(argv)
    template = load_template(args.template)
    ensure_for(template)
    for layer_id in sorted(template.layers()):
        print(f"{layer_id}: {os.path.relpath(layer_path(template, layer_id))}")
    print(f"runtime: {os.path.relpath(runtime_path())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
