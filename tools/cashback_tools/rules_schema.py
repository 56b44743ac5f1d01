"""The JSON Schema of a rule set, which storefronts validate theirs against.

    python -m cashback_tools.rules_schema [--out docs/rules.schema.json] [--check]

writes it (to the repository's docs/ by default); --check exits 1 when the file differs
from what the code generates, which a unit test also asserts.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from cashback.domain.rules.ruleset import RuleSet

# layers/cashback/python/cashback/rules/schema.py -> the repository root
DEFAULT_OUT = Path(__file__).resolve().parents[2] / "docs" / "rules.schema.json"


def json_schema() -> dict[str, Any]:
    schema = RuleSet.model_json_schema(mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


def rendered() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    text = rendered()
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != text:
            print(
                f"{args.out} is out of date: run python -m cashback_tools.rules_schema",
                file=sys.stderr,
            )
            return 1
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
