"""CloudFormation's YAML, as far as the local runner reads it: the short tags (!Ref, !GetAtt,
!Sub, ...) and the intrinsic functions that resolve to a string locally (Ref, GetAtt, Sub, Join).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

PSEUDO_PARAMETERS = {
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "000000000000",
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": "cashback-local",
}


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that reads CloudFormation short tags (!Ref, !GetAtt, !Sub...)."""


def _construct_tag(loader: _CfnLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix in ("Ref", "Condition"):
        return {suffix: value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load(path: Path) -> Any:
    """The document at `path`, short tags read as their long forms ({"Ref": ...})."""
    with Path(path).open(encoding="utf-8") as stream:
        return yaml.load(stream, Loader=_CfnLoader)  # noqa: S506 - a SafeLoader subclass


def resolve(value: Any, known: Mapping[str, str]) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    if not isinstance(value, dict) or len(value) != 1:
        return None
    function, argument = next(iter(value.items()))
    if function == "Ref":
        return known.get(argument)
    if function == "Fn::GetAtt" and isinstance(argument, list):
        return known.get(".".join(argument))
    if function == "Fn::Sub":
        return _substitute(argument, known)
    if function == "Fn::Join" and isinstance(argument, list) and len(argument) == 2:
        parts = [resolve(part, known) for part in argument[1]]
        known_parts = [part for part in parts if part is not None]
        return None if len(known_parts) < len(parts) else str(argument[0]).join(known_parts)
    return None


def _substitute(argument: Any, known: Mapping[str, str]) -> str | None:
    text, extra = (argument, {}) if isinstance(argument, str) else (argument[0], argument[1])
    values = {**known, **{key: resolve(value, known) for key, value in extra.items()}}
    missing = False

    def replace(match: re.Match[str]) -> str:
        nonlocal missing
        name = match.group(1)
        if name.startswith("!"):
            return "${" + name[1:] + "}"
        found = values.get(name)
        if found is None:
            missing = True
            return ""
        return found

    result = re.sub(r"\$\{([^}]+)\}", replace, text)
    return None if missing else result
