"""The fairness report of a review cycle held in the store: reads it, then measures it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from cardpilot.fairness.report import DECISION_COLUMNS, CycleInfo, ReportOptions, fairness_report
from cardpilot.fairness.thresholds import DEFAULT_LABEL
from cardpilot.store.fairness_reads import (
    cycle_run_summary,
    latest_reviewed_cycle,
    read_cycle_decisions,
    reviewed_cycles,
)


class FairnessError(ValueError):
    """The report cannot be made as asked: says what is missing and what to do."""


def cycle_fairness_report(
    db: Engine,
    cycle_id: str | None = None,
    *,
    label: str = DEFAULT_LABEL,
    options: ReportOptions | None = None,
) -> dict[str, Any]:
    """The fairness report of ``cycle_id`` (default: the latest cycle with decisions)."""
    chosen = cycle_id or latest_reviewed_cycle(db)
    if chosen is None:
        raise FairnessError(
            "the store holds no review decisions: run `cardpilot review` first, then the report"
        )
    decisions = read_cycle_decisions(db, chosen, label, DECISION_COLUMNS)
    if decisions.is_empty():
        known = reviewed_cycles(db)
        listed = ", ".join(known) if known else "none"
        raise FairnessError(
            f"review cycle {chosen!r} has no decisions in the store (cycles reviewed: {listed});"
            " pass one of them with --cycle"
        )
    summary = cycle_run_summary(db, chosen)
    cycle = CycleInfo(
        cycle_id=chosen,
        label=label,
        policy_versions=summary["policy_versions"],
        model_versions=summary["model_versions"],
        complete=summary["complete"],
    )
    return fairness_report(decisions, cycle, options)
