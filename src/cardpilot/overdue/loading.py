"""Load and validate ``overdue.yaml``; the recorded version is ``<declared>+<content hash>``.

Same convention as the limit policy (``cardpilot.policy.loading``): the hash is of the validated
content, so comments and key order do not change it and any value change does. Nor does the
syntax: the content is hashed in one fixed layout (``hash_layout``: money as integer fen, segment
rules as ``when_any: [{reason, all: [{field, ...}]}]`` wherever a rule is a plain list of
comparisons), so a file migrated to the one condition language records the same version as
before, and decisions made before and after a migration stay comparable.

A file in the old condition syntax still loads: it is converted on load with an
``OldPolicySyntaxWarning`` (``cardpilot.policy.old_syntax``).
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from cardpilot.overdue.schema import OverduePolicy, OverduePolicyFile
from cardpilot.policy.base import MONEY_DUMP, validation_message
from cardpilot.policy.files import content_digest, read_yaml_mapping
from cardpilot.policy.old_syntax import upgrade_overdue_data

OVERDUE_FILE = "overdue.yaml"


class OverduePolicyError(ValueError):
    """A policy that cannot be used: names the file and the field, and what is wrong."""


def default_overdue_policy_path() -> Path:
    return Path(str(resources.files("cardpilot") / "policies" / "default" / OVERDUE_FILE))


def _comparison_layout(cmp: dict[str, Any]) -> dict[str, Any]:
    return {("field" if k == "feature" else k): v for k, v in cmp.items()}


def _rule_layout(rule: dict[str, Any]) -> dict[str, Any]:
    when = rule["when"]
    parts = [when] if "feature" in when else when.get("all")
    if (
        parts is None
        or set(when) - {"all", "feature", "op", "value", "value_yuan"}
        or not all("feature" in part for part in parts)
    ):
        return rule  # nested any / not: no older layout to match
    return {"reason": rule["reason"], "all": [_comparison_layout(part) for part in parts]}


def hash_layout(content: OverduePolicyFile) -> dict[str, Any]:
    """The content in the layout its hash is taken in (see the module docstring)."""
    payload = content.model_dump(mode="json", by_alias=True, context={MONEY_DUMP: "fen"})
    for segment in payload["segments"]:
        segment["when_any"] = [_rule_layout(rule) for rule in segment.pop("rules")]
    return payload


def overdue_policy_from_data(data: Mapping[str, Any], name: str = OVERDUE_FILE) -> OverduePolicy:
    """Validate a parsed ``overdue.yaml`` (old syntax converted with a warning)."""
    data = upgrade_overdue_data(dict(data), name)
    try:
        content = OverduePolicyFile.model_validate(data)
    except ValidationError as exc:
        raise OverduePolicyError(validation_message(name, exc)) from exc
    return OverduePolicy(
        version=f"{content.version}+{content_digest(hash_layout(content))}", file=content
    )


def read_overdue_data(path: Path | None = None) -> dict[str, Any]:
    file = default_overdue_policy_path() if path is None else Path(path)
    if file.is_dir():
        file = file / OVERDUE_FILE
    return read_yaml_mapping(file, OverduePolicyError, f"a policy folder holds {OVERDUE_FILE}")


def load_overdue_policy(path: Path | None = None) -> OverduePolicy:
    """Load a policy file (or a folder holding ``overdue.yaml``); ``None`` = the shipped one."""
    file = default_overdue_policy_path() if path is None else Path(path)
    return overdue_policy_from_data(read_overdue_data(file), str(file))
