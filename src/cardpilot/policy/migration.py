"""``cardpilot policy migrate``: rewrite a policy folder in the current syntax.

The YAML is edited as a round-trip document (ruamel.yaml), so comments, key order, quoting and
flow style stay as the analyst wrote them; only old-syntax parts change
(``cardpilot.policy.old_syntax``). Every other file of the folder is copied unchanged. The
result is loaded back before the command reports success, and must load without the
compatibility shim (the command does that: ``cardpilot.cli.policy``).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from ruamel.yaml import YAML

from cardpilot.policy.catalogue import LIMITS as LIMITS_FILE
from cardpilot.policy.catalogue import OVERDUE as OVERDUE_FILE
from cardpilot.policy.old_syntax import modernise_overdue

YAML_WIDTH = 4096  # never re-wrap a line the analyst wrote


class MigrationError(ValueError):
    """A folder that cannot be migrated: says which and why."""


@dataclass
class Migration:
    """What ``migrate_policy_folder`` did."""

    source: Path
    target: Path
    changed: dict[str, list[str]] = field(default_factory=dict)  # file -> places rewritten


def _round_trip() -> YAML:
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = YAML_WIDTH
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def _rewrite_overdue(source: Path, target: Path) -> list[str]:
    yaml = _round_trip()
    document = yaml.load(source.read_text(encoding="utf-8"))
    if not isinstance(document, dict):
        raise MigrationError(f"{source}: expected a mapping at the top level")
    changed = modernise_overdue(document)
    if changed or source != target:
        with target.open("w", encoding="utf-8") as out:
            yaml.dump(document, out)
    return changed


def migrate_policy_folder(source: Path, target: Path | None = None) -> Migration:
    """Rewrite ``source`` in the current syntax, in place or into ``target``."""
    source = source.parent if source.is_file() else source
    if not (source / LIMITS_FILE).is_file() and not (source / OVERDUE_FILE).is_file():
        raise MigrationError(f"{source}: no {LIMITS_FILE} or {OVERDUE_FILE}: not a policy folder")
    target = source if target is None else target
    migration = Migration(source=source, target=target)
    if target.resolve() != source.resolve():
        target.mkdir(parents=True, exist_ok=True)
        for path in sorted(source.iterdir()):
            if path.is_file() and path.name != OVERDUE_FILE:
                shutil.copy2(path, target / path.name)
    if (source / OVERDUE_FILE).is_file():
        changed = _rewrite_overdue(source / OVERDUE_FILE, target / OVERDUE_FILE)
        migration.changed[OVERDUE_FILE] = changed
    if (source / LIMITS_FILE).is_file():
        migration.changed[LIMITS_FILE] = []  # limits.yaml was always in the current syntax
    return migration
