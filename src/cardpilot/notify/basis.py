"""The basis of a limit notice: the grade and the rule that applied, in words.

"您的信用等级为「良好」，按我行额度政策本次提升20%–30%" needs the grade's name and its range from
the limit policy that decided; a notice re-read from stored decisions without that policy
names the grade from ``notify.yaml`` (``limit_notices.grade_labels``) and states the change
actually applied. Pure functions: the review, the catch-up and ``review explain`` share them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from cardpilot.notify.notice import LimitBasis
from cardpilot.policy.schema import Policy


@dataclass(frozen=True, slots=True)
class GradeRule:
    """One grade of a limit policy as a notice names it."""

    label_zh: str
    label_en: str
    increase_min_pct: Decimal | None
    increase_max_pct: Decimal | None
    cut_pct: Decimal


GradeRules = Mapping[str, GradeRule]


def grade_rules(policy: Policy) -> dict[str, GradeRule]:
    """Each grade of ``policy``: its names and its increase range and decrease cut."""
    out = {}
    for g in policy.limits.grades:
        inc = g.increase_pct
        out[g.code] = GradeRule(
            label_zh=g.label.zh_cn,
            label_en=g.label.en,
            increase_min_pct=inc.min if inc is not None else None,
            increase_max_pct=inc.max if inc is not None else None,
            cut_pct=g.decrease.cut_pct,
        )
    return out


def applied_pct(old_minor: int, new_minor: int) -> Decimal | None:
    """The change applied, in whole percent of the old limit (None for no old limit)."""
    if old_minor <= 0:
        return None
    pct = Decimal(abs(new_minor - old_minor) * 100) / Decimal(old_minor)
    return pct.quantize(Decimal(1), rounding=ROUND_HALF_UP)


def limit_basis(
    row: Mapping[str, Any],
    rules: GradeRules | None,
    fallback_labels: Mapping[str, Mapping[str, str]],
) -> LimitBasis:
    """The basis of one decision row (``grade``, ``old_limit_minor``, ``new_limit_minor``):
    the policy's rule for its grade where ``rules`` has it, else the grade's name only."""
    grade = row.get("grade")
    old, new = int(row["old_limit_minor"]), int(row["new_limit_minor"])
    applied = applied_pct(old, new) if new != old else None
    rule = (rules or {}).get(grade) if grade else None
    if rule is None:
        labels = fallback_labels.get(grade or "", {})
        names = (labels.get("zh-CN", grade), labels.get("en", grade))
        return LimitBasis(grade, *names, applied_pct=applied)
    return LimitBasis(
        grade,
        rule.label_zh,
        rule.label_en,
        rule.increase_min_pct,
        rule.increase_max_pct,
        rule.cut_pct,
        applied,
    )
