"""Policy files written in the old overdue condition syntax, brought to the one language.

Before the limit and overdue policies shared one condition language, ``overdue.yaml`` wrote a
segment's rules as ``when_any: [{reason, all: [{field, op, value}]}]``. Now they are
``rules: [{reason, when: CONDITION}]`` with comparisons ``{feature, op, value}``, as in
``limits.yaml``. ``modernise_overdue`` rewrites the old form in place: on a plain ``dict`` (the
loaders' shim, which then warns with ``OldPolicySyntaxWarning``) or on a ruamel round-trip map
(``cardpilot policy migrate``, which keeps the file's comments and key order). A rule of one
comparison becomes ``when: {feature, ...}``; a rule of several becomes ``when: {all: [...]}``.
The rules themselves do not change, and neither does the policy version recorded with a
decision (the overdue content hash is taken in one fixed layout: ``cardpilot.overdue.loading``).
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import MutableMapping
from typing import Any

MIGRATE_HINT = "rewrite it with `cardpilot policy migrate FOLDER` (docs/policy.md 'Migration')"


class OldPolicySyntaxWarning(FutureWarning):
    """A policy file in a deprecated syntax was loaded through the compatibility shim.

    A ``FutureWarning`` (not a ``DeprecationWarning``), so that it shows to the analyst running
    a command, not only to developers running tests."""


def _replace_key(mapping: MutableMapping[Any, Any], old: str, new: str, value: Any) -> None:
    """Put ``value`` under ``new`` where ``old`` was, keeping a round-trip map's comment."""
    position = list(mapping).index(old)
    insert = getattr(mapping, "insert", None)
    if insert is None:  # a plain dict: rebuild it in order
        items = [(new if k == old else k, value if k == old else v) for k, v in mapping.items()]
        mapping.clear()
        mapping.update(items)
        return
    comments = mapping.ca.items.pop(old, None)  # type: ignore[attr-defined]
    del mapping[old]
    insert(position, new, value)
    if comments is not None:
        mapping.ca.items[new] = comments  # type: ignore[attr-defined]


def _modernise_rule(rule: MutableMapping[Any, Any]) -> bool:
    if "all" not in rule or "when" in rule:
        return False
    parts = rule["all"]
    for part in parts if isinstance(parts, list) else []:
        if isinstance(part, MutableMapping) and "field" in part and "feature" not in part:
            _replace_key(part, "field", "feature", part["field"])
    if isinstance(parts, list) and len(parts) == 1:
        condition: Any = parts[0]
    else:
        condition = type(rule)()
        condition["all"] = parts
    _replace_key(rule, "all", "when", condition)
    return True


def modernise_overdue(data: MutableMapping[Any, Any]) -> list[str]:
    """Rewrite old-syntax segment rules in place; the places changed (empty: nothing old)."""
    changed: list[str] = []
    segments = data.get("segments")
    for i, segment in enumerate(segments if isinstance(segments, list) else []):
        if not isinstance(segment, MutableMapping) or "when_any" not in segment:
            continue
        if "rules" in segment:
            continue  # both keys: let validation name the stray one
        rules = segment["when_any"]
        for j, rule in enumerate(rules if isinstance(rules, list) else []):
            if isinstance(rule, MutableMapping) and _modernise_rule(rule):
                changed.append(f"segments[{i}].when_any[{j}]")
        _replace_key(segment, "when_any", "rules", rules)
        changed.append(f"segments[{i}].when_any")
    return changed


def upgrade_overdue_data(data: MutableMapping[Any, Any], name: str) -> MutableMapping[Any, Any]:
    """The shim: old syntax converted on load (a copy) with a warning; new syntax as given."""
    upgraded = copy.deepcopy(data)
    changed = modernise_overdue(upgraded)
    if not changed:
        return data
    warnings.warn(
        f"{name}: segments use the old condition syntax (when_any / all / field); it was "
        f"converted on load — {MIGRATE_HINT}",
        OldPolicySyntaxWarning,
        stacklevel=3,
    )
    return upgraded
