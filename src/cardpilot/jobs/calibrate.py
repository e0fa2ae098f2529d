"""Score cut-offs calibrated to a model on the store's accounts (``cardpilot policy calibrate``).

A policy's score cut-offs only mean something on the scale of the model that scores: the
shipped policy assumes a 300-900 scale, and a scorecard trained on a bank's data has its own.
This places the cut-offs at quantiles of the model's scores on the accounts a review would
grade, read and scored exactly as the review reads and scores them, and, when the store holds
observed outcomes (``performance_labels``), reports the default rate per calibrated grade.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl
from sqlalchemy import Engine

from cardpilot.batch.currency import require_currency
from cardpilot.batch.dates import EmptyStoreError, default_as_of
from cardpilot.batch.scoring import Scorer, portfolio_scores
from cardpilot.domain import progress
from cardpilot.policy.grades import calibrate_score_cutoffs, grade_report
from cardpilot.policy.schema import Policy
from cardpilot.store.account_chunks import DEFAULT_CHUNK_ROWS
from cardpilot.store.db import make_engine, upgrade
from cardpilot.store.performance_labels import label_names, read_label


class CalibrationError(ValueError):
    """The calibration cannot run as asked (the message names what to change)."""


@dataclass(frozen=True)
class Calibration:
    policy: Policy  # the calibrated policy
    as_of: dt.date
    accounts: int  # accounts whose scores placed the cut-offs
    shares: tuple[float, ...]
    label: str | None  # the observed outcome of the grade report, when the store has one
    report: pl.DataFrame | None  # grade_report of those accounts (None without labels)


def parse_shares(value: str, grades: int) -> tuple[float, ...]:
    """``"30,30,20,20"`` (percent of accounts per grade, best first) as fractions."""
    try:
        parts = [float(p) for p in value.split(",") if p.strip()]
    except ValueError:
        raise CalibrationError(f"--shares {value!r}: give percentages like 30,30,20,20") from None
    if len(parts) != grades or any(p <= 0 for p in parts) or abs(sum(parts) - 100.0) > 1e-6:
        raise CalibrationError(
            f"--shares {value!r}: give {grades} positive percentages, best grade first,"
            " that add up to 100"
        )
    return tuple(p / 100.0 for p in parts)


def _labels(db: Engine, label: str | None) -> tuple[str, pl.DataFrame] | None:
    """The store's observed outcomes of ``label`` (default: its only label) by account."""
    names = label_names(db)
    if not names:
        if label is not None:
            raise CalibrationError(f"--label {label!r}: the store holds no outcomes")
        return None
    if label is None:
        if len(names) > 1:
            raise CalibrationError(
                f"the store holds several outcomes ({', '.join(names)}): pick one with --label"
            )
        label = names[0]
    elif label not in names:
        raise CalibrationError(f"--label {label!r}: not in the store (it holds {', '.join(names)})")
    return label, read_label(db, label)


def calibrate_policy(
    database_url: str,
    scorer: Scorer,
    policy: Policy,
    *,
    shares: Sequence[float],
    as_of: dt.date | None = None,
    sample: int | None = None,
    label: str | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> Calibration:
    """``policy`` with its score cut-offs at the ``shares`` quantiles (best grade first) of
    ``scorer``'s scores on the store's accounts as of ``as_of`` (default: the review's
    default), or on the first ``sample`` of them in account order."""
    if policy.limits.grading.basis != "score":
        raise CalibrationError(
            "the policy grades on pd (grading.basis): there are no score cut-offs to calibrate"
        )
    upgrade(database_url)
    db = make_engine(database_url)
    try:
        require_currency(
            db,
            policy.limits.currency,
            error=CalibrationError,
            amounts="the policy's amounts",
            fix="Calibrate a policy in the accounts' currency.",
        )
        try:
            as_of = as_of or default_as_of(db)
        except EmptyStoreError as exc:
            raise CalibrationError(str(exc)) from None
        scores = portfolio_scores(db, scorer, as_of, chunk_rows=chunk_rows, limit=sample)
        scored = scores.filter(pl.col("score").is_not_null())
        if scored.height == 0:
            raise CalibrationError(
                f"no account has a statement up to {as_of} to score: nothing to calibrate on"
            )
        progress.stage("calibrating cut-offs and reading outcomes", None)
        calibrated = calibrate_score_cutoffs(policy, scored["score"], list(shares))
        outcomes = _labels(db, label)
    finally:
        db.dispose()
    report = None
    if outcomes is not None:
        _, labels = outcomes
        report = grade_report(scored.join(labels, on="account_id", how="inner"), calibrated)
    return Calibration(
        policy=calibrated,
        as_of=as_of,
        accounts=scored.height,
        shares=tuple(shares),
        label=outcomes[0] if outcomes else None,
        report=report,
    )


def report_rows(report: pl.DataFrame) -> list[dict[str, Any]]:
    """The grade report as plain rows (JSON output, the policy file's header)."""
    return [
        {
            "grade": r["grade"],
            "accounts": r["accounts"],
            "share": None if r["share"] is None else round(r["share"], 4),
            "default_rate": None if r["default_rate"] is None else round(r["default_rate"], 4),
            "mean_pd": None if r["mean_pd"] is None else round(r["mean_pd"], 4),
        }
        for r in report.iter_rows(named=True)
    ]
