"""What changed between two policies, value by value, in the words of the files.

Grades and segments are matched by code (not position), so reordering shows as a change of
order only where it matters (segments: first match wins) and renaming shows as remove + add.
Money is shown in yuan as written in the files.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from cardpilot.policy.schema import Policy

ChangeKind = Literal["added", "removed", "changed"]


@dataclass(frozen=True, slots=True)
class PolicyChange:
    path: str
    kind: ChangeKind
    old: Any
    new: Any

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "kind": self.kind, "old": self.old, "new": self.new}


def _flatten(value: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        if not value:
            out[prefix] = {}
        for key, item in value.items():
            _flatten(item, f"{prefix}.{key}" if prefix else str(key), out)
    elif (
        isinstance(value, list)
        and value
        and all(isinstance(v, dict) and "code" in v for v in value)
    ):
        for item in value:
            _flatten(item, f"{prefix}[{item['code']}]", out)
    else:
        out[prefix] = value


def _as_flat(policy: Policy) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _flatten(policy.limits.model_dump(mode="json", by_alias=True), "limits", out)
    _flatten(policy.reasons.model_dump(mode="json", by_alias=True), "", out)
    return out


def _order(policy: Policy) -> dict[str, list[str]]:
    return {
        "limits.grades (order)": [g.code for g in policy.limits.grades],
        "limits.segments (order, first match wins)": [s.code for s in policy.limits.segments],
    }


def diff_policies(old: Policy, new: Policy) -> list[PolicyChange]:
    """Every added, removed or changed value from ``old`` to ``new``, sorted by path."""
    a, b = _as_flat(old), _as_flat(new)
    changes: list[PolicyChange] = []
    for path in sorted(a.keys() | b.keys()):
        if path not in b:
            changes.append(PolicyChange(path, "removed", a[path], None))
        elif path not in a:
            changes.append(PolicyChange(path, "added", None, b[path]))
        elif a[path] != b[path]:
            changes.append(PolicyChange(path, "changed", a[path], b[path]))
    order_a, order_b = _order(old), _order(new)
    for name, codes in order_a.items():
        if codes != order_b[name] and set(codes) == set(order_b[name]):
            changes.append(PolicyChange(name, "changed", codes, order_b[name]))
    return changes
