"""Initial limits for new applicants, from the same policy as the review.

``assign_limits`` takes a table of applicants (``applicant_id, score, pd`` and optional
``annual_income_minor``) and returns one offer, decline or referral per applicant through
``cardpilot.policy.limits.assign_initial_limit``: the grade's initial range, placed by the score
within the grade, rounded down to the step, capped by the grade's share of annual income.
``assign_applicant`` is the one-applicant call the API will use. ``read_applicants`` reads a CSV
or Parquet file where income is in yuan (``annual_income``) or fen (``annual_income_minor``).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import polars as pl

from cardpilot.domain.money import to_minor
from cardpilot.policy.limits import ReasonTexts, assign_initial_limit
from cardpilot.policy.loading import load_policy
from cardpilot.policy.schema import Policy


class ApplicantError(ValueError):
    """An applicant file that cannot be read: names the file, row and field."""


def assign_limits(
    applicants: pl.DataFrame,
    policy: Policy | None = None,
    as_of: dt.date | None = None,
    *,
    reason_texts: ReasonTexts | None = None,
) -> pl.DataFrame:
    """Initial limits for a table of applicants (``INITIAL_SCHEMA`` columns)."""
    policy = policy or load_policy()
    return assign_initial_limit(
        applicants, policy, as_of or dt.date.today(), reason_texts=reason_texts
    )


def assign_applicant(
    applicant_id: str,
    *,
    score: int | None,
    pd: float | None = None,
    annual_income_minor: int | None = None,
    policy: Policy | None = None,
    as_of: dt.date | None = None,
    model_version: str | None = None,
) -> dict[str, Any]:
    """One applicant's initial limit: what the API calls. Money in fen."""
    frame = pl.DataFrame(
        {
            "applicant_id": [applicant_id],
            "score": [score],
            "pd": [pd],
            "annual_income_minor": [annual_income_minor],
            "model_version": [model_version],
        },
        schema={
            "applicant_id": pl.String,
            "score": pl.Int64,
            "pd": pl.Float64,
            "annual_income_minor": pl.Int64,
            "model_version": pl.String,
        },
    )
    return assign_limits(frame, policy, as_of).row(0, named=True)


def read_applicants(path: Path) -> pl.DataFrame:
    """Applicants from CSV or Parquet: ``applicant_id, score`` (or ``pd``) and optionally
    ``annual_income`` in yuan (exact decimal text) or ``annual_income_minor`` in fen."""
    if path.suffix.lower() == ".parquet":
        frame = pl.read_parquet(path)
    elif path.suffix.lower() == ".csv":
        frame = pl.read_csv(path, infer_schema=False)
    else:
        raise ApplicantError(f"{path}: use a .csv or .parquet file")
    if "applicant_id" not in frame.columns or not ({"score", "pd"} & set(frame.columns)):
        raise ApplicantError(f"{path}: needs columns applicant_id and score (or pd)")
    casts: list[pl.Expr] = [pl.col("applicant_id").cast(pl.String)]
    for name, dtype in (("score", pl.Int64), ("pd", pl.Float64)):
        if name in frame.columns:
            casts.append(pl.col(name).cast(pl.String).str.strip_chars().cast(dtype, strict=False))
    frame = frame.with_columns(casts)
    if "annual_income" in frame.columns and "annual_income_minor" not in frame.columns:
        minor: list[int | None] = []
        for row, value in enumerate(frame["annual_income"].cast(pl.String).to_list(), start=2):
            if value is None or not value.strip():
                minor.append(None)
                continue
            try:
                minor.append(to_minor(value.strip()))
            except ValueError as exc:
                raise ApplicantError(f"{path}: row {row}: annual_income: {exc}") from None
        frame = frame.with_columns(pl.Series("annual_income_minor", minor, dtype=pl.Int64))
    return frame
