"""What every versioned policy file shares: reading its YAML with errors that name the file,
and the content digest appended to its declared version (``<declared>+<digest>``)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import yaml

HASH_CHARS = 12
# libyaml's parser with the safe constructor: the same values as yaml.safe_load, parsed several
# times faster (a command reads three or four policy files before it starts).
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def content_digest(payload: object) -> str:
    """The first 12 hex digits of the SHA-256 of ``payload`` as canonical JSON (sorted keys,
    no spaces, UTF-8): the same content gives the same version whatever the file's layout."""
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:HASH_CHARS]


def read_yaml_file(path: Path, error: type[ValueError], missing: str) -> Any:
    """The parsed YAML of ``path``; ``error`` names the file when it is absent (followed by
    ``missing``, what the folder should hold) or not valid YAML."""
    if not path.is_file():
        raise error(f"{path}: file not found; {missing}")
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)
    except yaml.YAMLError as exc:
        raise error(f"{path}: not valid YAML: {exc}") from exc


def read_yaml_mapping(path: Path, error: type[ValueError], missing: str) -> dict[str, Any]:
    """``read_yaml_file``, and ``error`` when the top level is not a mapping."""
    data = read_yaml_file(path, error, missing)
    if not isinstance(data, dict):
        raise error(f"{path}: expected a mapping at the top level")
    return data
