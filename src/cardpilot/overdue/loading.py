"""Load and validate ``overdue.yaml``; the recorded version is ``<declared>+<content hash>``.

Same convention as the limit policy (``cardpilot.policy.loading``): the hash is of the validated
content, so comments and key order do not change it and any value change does.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from cardpilot.overdue.schema import OverduePolicy, OverduePolicyFile

OVERDUE_FILE = "overdue.yaml"
HASH_CHARS = 12


class OverduePolicyError(ValueError):
    """A policy that cannot be used: names the file and the field, and what is wrong."""


def default_overdue_policy_path() -> Path:
    return Path(str(resources.files("cardpilot") / "policies" / "default" / OVERDUE_FILE))


def _where(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def overdue_policy_from_data(data: Mapping[str, Any], name: str = OVERDUE_FILE) -> OverduePolicy:
    try:
        content = OverduePolicyFile.model_validate(data)
    except ValidationError as exc:
        lines = [
            f"{name}: {_where(tuple(e['loc']))}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        ]
        raise OverduePolicyError("\n".join(lines)) from exc
    payload = content.model_dump(mode="json", by_alias=True)
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:HASH_CHARS]
    return OverduePolicy(version=f"{content.version}+{digest}", file=content)


def read_overdue_data(path: Path | None = None) -> dict[str, Any]:
    file = default_overdue_policy_path() if path is None else Path(path)
    if file.is_dir():
        file = file / OVERDUE_FILE
    if not file.is_file():
        raise OverduePolicyError(f"{file}: file not found; a policy folder holds {OVERDUE_FILE}")
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise OverduePolicyError(f"{file}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise OverduePolicyError(f"{file}: expected a mapping at the top level")
    return data


def load_overdue_policy(path: Path | None = None) -> OverduePolicy:
    """Load a policy file (or a folder holding ``overdue.yaml``); ``None`` = the shipped one."""
    file = default_overdue_policy_path() if path is None else Path(path)
    return overdue_policy_from_data(read_overdue_data(file), str(file))
