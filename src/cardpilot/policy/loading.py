"""Load and validate a policy folder (``limits.yaml`` + ``reasons.yaml``).

The recorded version is ``<declared version>+<content hash>``: the declared version is what the
risk team names a release; the hash (of the validated content, not of the file bytes) changes
whenever any value changes, so two decisions with the same version were made by the same rules
even if someone forgot to bump the declared version. Comments and key order do not change it.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from cardpilot.policy.base import validation_message
from cardpilot.policy.files import content_digest, read_yaml_mapping
from cardpilot.policy.schema import LimitPolicy, Policy, ReasonCatalog

LIMITS_FILE = "limits.yaml"
REASONS_FILE = "reasons.yaml"


class PolicyError(ValueError):
    """A policy that cannot be used: says which file and which field, and what to do."""


def default_policy_path() -> Path:
    """The shipped default policy folder (``cardpilot/policies/default``)."""
    return Path(str(resources.files("cardpilot") / "policies" / "default"))


def _read_yaml(path: Path) -> dict[str, Any]:
    return read_yaml_mapping(
        path, PolicyError, f"a policy folder holds {LIMITS_FILE} and {REASONS_FILE}"
    )


# Sections added to limits.yaml after policies were in use: hashed only when a file has them, so
# a file without one keeps the version its decisions recorded.
LATER_SECTIONS = ("watch_actions",)


def content_hash(limits: LimitPolicy, reasons: ReasonCatalog) -> str:
    """Hash of the validated content (canonical JSON), first 12 hex digits."""
    limits_data = limits.model_dump(mode="json", by_alias=True)
    for section in LATER_SECTIONS:
        if limits_data.get(section) is None:
            limits_data.pop(section, None)
    payload = {
        "limits": limits_data,
        "reasons": reasons.model_dump(mode="json", by_alias=True),
    }
    return content_digest(payload)


def policy_from_data(
    limits_data: Mapping[str, Any],
    reasons_data: Mapping[str, Any],
    *,
    limits_name: str = LIMITS_FILE,
    reasons_name: str = REASONS_FILE,
) -> Policy:
    """Validate already-parsed YAML documents into a ``Policy`` (tests build variants this way)."""
    try:
        limits = LimitPolicy.model_validate(limits_data)
    except ValidationError as exc:
        raise PolicyError(validation_message(limits_name, exc)) from exc
    try:
        reasons = ReasonCatalog.model_validate(reasons_data)
    except ValidationError as exc:
        raise PolicyError(validation_message(reasons_name, exc)) from exc
    version = f"{limits.version}+{content_hash(limits, reasons)}"
    try:
        return Policy(version=version, limits=limits, reasons=reasons)
    except ValidationError as exc:
        raise PolicyError(
            "\n".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())
        ) from exc


def read_policy_data(path: Path | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The raw YAML documents of a policy folder (default: the shipped policy)."""
    folder = default_policy_path() if path is None else Path(path)
    if folder.is_file():
        folder = folder.parent
    return _read_yaml(folder / LIMITS_FILE), _read_yaml(folder / REASONS_FILE)


def load_policy(path: Path | None = None) -> Policy:
    """Load and validate a policy folder; ``None`` loads the shipped default.

    Raises ``PolicyError`` naming the file and field that are wrong.
    """
    folder = default_policy_path() if path is None else Path(path)
    if folder.is_file():
        folder = folder.parent
    limits_data, reasons_data = read_policy_data(folder)
    return policy_from_data(
        limits_data,
        reasons_data,
        limits_name=str(folder / LIMITS_FILE),
        reasons_name=str(folder / REASONS_FILE),
    )
