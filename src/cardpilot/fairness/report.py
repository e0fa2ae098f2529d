"""The fairness report of one review cycle: for each protected attribute and each of its groups,
the shares of increases and decreases, their adverse impact ratios, the default rate by grade
and the model's AUC. Built from the cycle's stored decisions (what was decided and recorded).

The protected attributes reach this module beside the decisions, never through a feature
frame or a scorer: the report measures the decisions, it takes no part in making them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from cardpilot.config import DEFAULT_LOCALE
from cardpilot.fairness.groups import AGE_BAND, ATTRIBUTES, UNKNOWN, Attribute, with_groups
from cardpilot.fairness.measures import group_auc, impact_ratios, share, wilson_interval
from cardpilot.fairness.thresholds import CONFIDENCE, FOUR_FIFTHS, MIN_GROUP_ACCOUNTS

AIR_DECREASE_BASIS = "(1 - decrease_share) / max over groups of (1 - decrease_share)"

# What the report reads for each decision of the cycle (store.fairness_reads gives it).
DECISION_COLUMNS: dict[str, pl.DataType] = {
    "account_id": pl.String(),
    "as_of": pl.Date(),
    "action": pl.String(),
    "grade": pl.String(),
    "score": pl.Int64(),
    "pd": pl.Float64(),
    "sex": pl.String(),
    "marital_status": pl.String(),
    "birth_year": pl.Int64(),
    "defaulted": pl.Boolean(),
}


@dataclass(frozen=True)
class ReportOptions:
    min_group_accounts: int = MIN_GROUP_ACCOUNTS
    threshold: float = FOUR_FIFTHS
    confidence: float = CONFIDENCE
    locale: str = DEFAULT_LOCALE


@dataclass(frozen=True)
class CycleInfo:
    """Where the decisions come from: the review cycle, its dates and versions."""

    cycle_id: str
    label: str
    policy_versions: Sequence[str] = field(default_factory=tuple)
    model_versions: Sequence[str] = field(default_factory=tuple)
    complete: bool = True  # a run of the cycle finished


def _round(value: float | None, digits: int = 6) -> float | None:
    return None if value is None else round(value, digits)


def _interval(count: int, total: int, confidence: float) -> list[float] | None:
    found = wilson_interval(count, total, confidence)
    return None if found is None else [round(found[0], 6), round(found[1], 6)]


def grade_order(decisions: pl.DataFrame) -> list[str]:
    """The cycle's grades, best first: by their accounts' mean score, highest first (the report
    reads no policy; the score orders the grades as the policy's cut-offs do)."""
    means = (
        decisions.drop_nulls("grade")
        .group_by("grade")
        .agg(pl.col("score").mean().alias("mean_score"))
        .sort(["mean_score", "grade"], descending=[True, False], nulls_last=True)
    )
    return means["grade"].to_list()


def _outcomes(frame: pl.DataFrame, confidence: float, no_labels: str | None) -> dict[str, Any]:
    """Counts, shares and intervals of increases, decreases and defaults in ``frame``;
    ``no_labels``: why there is no AUC when the cycle has no outcome labels at all."""
    n = frame.height
    inc = int((frame["action"] == "increase").sum())
    dec = int((frame["action"] == "decrease").sum())
    labelled = int(frame["defaulted"].count())
    defaults = int(frame["defaulted"].cast(pl.Int64).sum() or 0)
    score_auc, auc_accounts, auc_reason = group_auc(
        frame["defaulted"].cast(pl.Float64).to_numpy(), frame["score"].cast(pl.Float64).to_numpy()
    )
    return {
        "accounts": n,
        "increases": inc,
        "decreases": dec,
        "increase_share": _round(share(inc, n)),
        "increase_share_ci": _interval(inc, n, confidence),
        "decrease_share": _round(share(dec, n)),
        "decrease_share_ci": _interval(dec, n, confidence),
        "labelled": labelled,
        "defaults": defaults,
        "default_rate": _round(share(defaults, labelled)),
        "auc": _round(score_auc),
        "auc_accounts": auc_accounts,
        "auc_reason": no_labels if no_labels and not labelled else auc_reason,
    }


def _by_grade(frame: pl.DataFrame, grades: list[str]) -> list[dict[str, Any]]:
    """Default rate by grade (calibration) of one group's decisions, best grade first."""
    stats = {
        r["grade"]: r
        for r in frame.group_by("grade")
        .agg(
            pl.len().alias("accounts"),
            pl.col("defaulted").count().alias("labelled"),
            pl.col("defaulted").cast(pl.Int64).sum().alias("defaults"),
            pl.col("pd").mean().alias("mean_pd"),
        )
        .iter_rows(named=True)
    }
    rows = []
    for grade in [*grades, None]:  # decisions without a grade (no score) last
        r = stats.get(grade)
        if r is None:
            continue
        rows.append(
            {
                "grade": grade,
                "accounts": r["accounts"],
                "labelled": r["labelled"],
                "defaults": r["defaults"],
                "default_rate": _round(share(r["defaults"], r["labelled"])),
                "mean_pd": _round(r["mean_pd"]),
            }
        )
    return rows


def _group_order(attribute: Attribute, groups: dict[str, dict[str, Any]]) -> list[str]:
    """Age bands youngest first; other groups largest first; ``unknown`` last."""
    if attribute is AGE_BAND:
        known = [g for g in attribute.group_names if g in groups and g != UNKNOWN]
    else:
        known = sorted(
            (g for g in groups if g != UNKNOWN), key=lambda g: (-groups[g]["accounts"], g)
        )
    rest = sorted(g for g in groups if g not in known and g != UNKNOWN)
    return [*known, *rest, *([UNKNOWN] if UNKNOWN in groups else [])]


def _attribute_report(
    decisions: pl.DataFrame,
    attribute: Attribute,
    grades: list[str],
    options: ReportOptions,
    no_labels: str | None,
) -> dict[str, Any]:
    groups: dict[str, dict[str, Any]] = {}
    for (value,), frame in decisions.group_by(attribute.key):
        stats = _outcomes(frame, options.confidence, no_labels)
        stats["default_rate_by_grade"] = _by_grade(frame, grades)
        groups[str(value)] = stats
    large = [g for g, s in groups.items() if s["accounts"] >= options.min_group_accounts]
    eligible = large or list(groups)
    inc_ref, air_inc = impact_ratios({g: s["increase_share"] for g, s in groups.items()}, eligible)
    kept = {
        g: None if s["decrease_share"] is None else 1 - s["decrease_share"]
        for g, s in groups.items()
    }
    dec_ref, air_dec = impact_ratios(kept, eligible)
    rows = []
    for g in _group_order(attribute, groups):
        small = groups[g]["accounts"] < options.min_group_accounts
        ratios = {"air_increase": air_inc[g], "air_decrease": air_dec[g]}
        flags = (
            []
            if small
            else [m for m, r in ratios.items() if r is not None and r < options.threshold]
        )
        rows.append(
            {
                "group": g,
                "name": attribute.group_name(g, options.locale),
                **{k: v for k, v in groups[g].items() if k != "default_rate_by_grade"},
                "air_increase": _round(ratios["air_increase"], 4),
                "air_decrease": _round(ratios["air_decrease"], 4),
                "small": small,
                "flagged": bool(flags),
                "flags": flags,
                "default_rate_by_grade": groups[g]["default_rate_by_grade"],
            }
        )
    return {
        "attribute": attribute.key,
        "name": attribute.name(options.locale),
        "reference_increase": inc_ref,
        "reference_decrease": dec_ref,
        "groups": rows,
    }


def fairness_report(
    decisions: pl.DataFrame, cycle: CycleInfo, options: ReportOptions | None = None
) -> dict[str, Any]:
    """The report of ``decisions`` (``DECISION_COLUMNS``, one row per decision of the cycle)
    as plain values: what ``--json`` prints and the HTML page shows."""
    options = options or ReportOptions()
    grouped = with_groups(decisions)
    grades = grade_order(grouped)
    no_labels = (
        None
        if grouped["defaulted"].count()
        else f"the store holds no outcome label {cycle.label!r} for the cycle's accounts"
        " (performance_labels): import the outcomes to measure AUC and default rates"
    )
    attributes = [_attribute_report(grouped, a, grades, options, no_labels) for a in ATTRIBUTES]
    portfolio = _outcomes(grouped, options.confidence, no_labels)
    as_of = sorted({d.isoformat() for d in grouped["as_of"].drop_nulls().unique().to_list()})
    flagged = [
        {
            "attribute": a["attribute"],
            "group": g["group"],
            "measure": m,
            "air": g[m],
            "accounts": g["accounts"],
            "name": f"{a['name']} / {g['name']}",
        }
        for a in attributes
        for g in a["groups"]
        for m in g["flags"]
    ]
    return {
        "cycle_id": cycle.cycle_id,
        "as_of": as_of[0] if len(as_of) == 1 else as_of,
        "complete": cycle.complete,
        "policy_versions": list(cycle.policy_versions),
        "model_versions": list(cycle.model_versions),
        "label": cycle.label,
        "locale": options.locale,
        "accounts": portfolio["accounts"],
        "min_group_accounts": options.min_group_accounts,
        "air_threshold": options.threshold,
        "confidence": options.confidence,
        "air_decrease_basis": AIR_DECREASE_BASIS,
        "grades": grades,
        "portfolio": portfolio,
        "attributes": attributes,
        "flagged": flagged,
    }
