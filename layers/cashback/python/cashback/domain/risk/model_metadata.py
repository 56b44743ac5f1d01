"""The exported model's metadata alone (version, thresholds, feature quantiles), for the
functions that read about the model without scoring with it (no numpy)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from cashback.domain.risk import ModelNotFound, model_dir


@cache
def _read(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    found: dict[str, Any] = json.loads(path.read_text())
    return found


def load_metadata() -> dict[str, Any] | None:
    """The model layer's metadata.json, read once per container; None without a model."""
    try:
        directory = model_dir()
    except ModelNotFound:
        return None
    return _read((directory / "metadata.json").resolve())
