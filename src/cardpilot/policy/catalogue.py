"""Policies by name: the shipped ones and the bank's own.

Every command that takes a policy takes ``--policy NAME|PATH``. A value naming an existing file
or folder is that path; otherwise it is a name, looked up in

1. the local policy folder (``policy_dir`` in ``cardpilot.toml``, or ``CARDPILOT_POLICY_DIR``;
   a relative path is taken from the working folder): a folder of policy folders, the bank's
   own; a local policy shadows a shipped one of the same name;
2. the policies shipped inside the package (``cardpilot/policies/<name>/``, found through
   ``importlib.resources``, so a name works in an installed package as in a source checkout).

A policy folder holds ``limits.yaml`` + ``reasons.yaml`` (the limit review) and/or
``overdue.yaml`` (overdue treatment). The listing reads only each file's declared ``version``
and ``currency``; loading (``cardpilot.policy.loading``, ``cardpilot.overdue.loading``)
validates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from cardpilot.config import Settings, get_settings

LIMITS = "limits.yaml"
OVERDUE = "overdue.yaml"
WARNING = "warning.yaml"
KINDS = (LIMITS, OVERDUE, WARNING)
DEFAULT_NAME = "default"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class UnknownPolicyError(ValueError):
    """A ``--policy`` value that is neither an existing path nor a known policy name."""


@dataclass(frozen=True)
class PolicyFile:
    """One file of a policy folder, as declared (not validated)."""

    kind: str  # limits.yaml | overdue.yaml
    version: str | None
    currency: str | None
    error: str | None = None  # unreadable YAML: said, not raised, so the listing goes on


@dataclass(frozen=True)
class PolicyEntry:
    name: str
    path: Path
    source: str  # shipped | local
    files: tuple[PolicyFile, ...] = field(default=())
    shadowed: bool = False  # a shipped policy hidden by a local one of the same name

    @property
    def currency(self) -> str | None:
        return next((f.currency for f in self.files if f.currency), None)

    def holds(self, kind: str) -> bool:
        return any(f.kind == kind for f in self.files)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source": self.source,
            "path": str(self.path),
            "currency": self.currency,
            "shadowed": self.shadowed,
            "files": {
                f.kind: {"version": f.version, "currency": f.currency, "error": f.error}
                for f in self.files
            },
        }


def shipped_dir() -> Path:
    """The folder of the shipped policies inside the installed package."""
    return Path(str(resources.files("cardpilot") / "policies"))


def local_dir(settings: Settings | None = None) -> Path | None:
    folder = (settings or get_settings()).policy_dir
    return None if folder is None else Path(folder).expanduser().resolve()


def _declared(folder: Path, kind: str) -> PolicyFile | None:
    path = folder / kind
    if not path.is_file():
        return None
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        return PolicyFile(kind, None, None, error=f"{type(exc).__name__}: {exc}"[:200])
    if not isinstance(data, dict):
        return PolicyFile(kind, None, None, error="expected a mapping at the top level")
    version, currency = data.get("version"), data.get("currency")
    return PolicyFile(
        kind,
        None if version is None else str(version),
        None if currency is None else str(currency).upper(),
    )


def _entries_in(root: Path | None, source: str) -> list[PolicyEntry]:
    if root is None or not root.is_dir():
        return []
    out = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        files = tuple(f for kind in KINDS if (f := _declared(folder, kind)) is not None)
        if files and _NAME.match(folder.name):
            out.append(PolicyEntry(folder.name, folder, source, files))
    return out


def policy_entries(settings: Settings | None = None) -> list[PolicyEntry]:
    """Every policy: the local ones, then the shipped ones (a shadowed one marked)."""
    local = _entries_in(local_dir(settings), "local")
    names = {e.name for e in local}
    shipped = [
        PolicyEntry(e.name, e.path, e.source, e.files, shadowed=e.name in names)
        for e in _entries_in(shipped_dir(), "shipped")
    ]
    return local + shipped


def find_policy(name: str, settings: Settings | None = None) -> PolicyEntry | None:
    return next(
        (e for e in policy_entries(settings) if e.name == name and not e.shadowed),
        None,
    )


def resolve_policy(
    ref: str | Path | None, *, kind: str | None = None, settings: Settings | None = None
) -> Path | None:
    """The folder (or file) ``ref`` stands for; ``None`` stays ``None`` (the caller's default).

    ``kind`` (``limits.yaml`` or ``overdue.yaml``): a named policy must hold that file.
    Raises ``UnknownPolicyError`` naming the policies there are.
    """
    if ref is None:
        return None
    path = Path(ref).expanduser()
    if path.exists():
        return path
    text = str(ref)
    if not _NAME.match(text):
        raise UnknownPolicyError(f"--policy {text}: no such file or folder")
    entry = find_policy(text, settings)
    if entry is None:
        known = ", ".join(sorted({e.name for e in policy_entries(settings)})) or "none"
        raise UnknownPolicyError(
            f"--policy {text}: no such policy, file or folder; policies by name: {known}"
            " (cardpilot policy list)"
        )
    if kind is not None and not entry.holds(kind):
        raise UnknownPolicyError(
            f"--policy {text}: policy {entry.name} ({entry.path}) holds no {kind}"
        )
    return entry.path


def policies_in(currency: str, kind: str, settings: Settings | None = None) -> list[str]:
    """Names of the policies holding ``kind`` in ``currency`` (the default first)."""
    names = [
        e.name
        for e in policy_entries(settings)
        if not e.shadowed and any(f.kind == kind and f.currency == currency for f in e.files)
    ]
    return sorted(names, key=lambda n: (n != DEFAULT_NAME, n))


def currency_hint(currency: str, kind: str = LIMITS, settings: Settings | None = None) -> str:
    """What to pass instead, for accounts in ``currency``: a sentence naming the policy."""
    names = policies_in(currency.upper(), kind, settings)
    if not names:
        return (
            f"No shipped or local policy is in {currency}: write one in {currency} and pass"
            " --policy PATH (cardpilot policy list shows the policies there are)."
        )
    others = f" (also in {currency}: {', '.join(names[1:])})" if len(names) > 1 else ""
    return f"Use --policy {names[0]}, the policy in {currency}{others}."
