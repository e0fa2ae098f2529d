"""Initial limits for applicants: the grade's initial range, placed by score within the grade,
rounded down to the policy's step and capped by the grade's income cap where income is known, and
by the caller's affordability cap where it gives one (``cardpilot apply``: the customer policy's
months of free income)."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pyarrow as pa

from cardpilot.domain.decisions import InitialAction
from cardpilot.policy.base import percent_to_bp
from cardpilot.policy.limit_arithmetic import (
    PPM,
    by_grade,
    floor_to_step,
    grade_expr,
    pct_of,
    position_ppm,
)
from cardpilot.policy.limit_inputs import INITIAL_SCHEMA, DecisionInputError, as_frame, dtype_of
from cardpilot.policy.limit_reasons import (
    ReasonTexts,
    reason_list,
    reason_text_exprs,
    reason_texts_key,
)
from cardpilot.policy.schema import Policy

__all__ = ["AFFORDABILITY_CAP", "INITIAL_SCHEMA", "assign_initial_limit"]

# The caller's own cap on an initial limit (fen), beside the grade's share of annual income.
AFFORDABILITY_CAP = "affordability_cap_minor"


def assign_initial_limit(
    applicants: pa.Table | pa.RecordBatch | pl.DataFrame,
    policy: Policy,
    as_of: dt.date,
    *,
    reason_texts: ReasonTexts | None = None,
) -> pl.DataFrame:
    """Initial limits for new applicants, vectorised like ``decide_limits``.

    Input: ``applicant_id, score, pd, annual_income_minor`` (income may be null or absent) and
    optional ``reason_codes, model_version, affordability_cap_minor``. The limit is the grade's
    initial range, placed by score within the grade, rounded down to the step and capped by the
    grade's income cap where income is known and by ``affordability_cap_minor`` where given (the
    lower of the two); a cap below the grade's minimum follows ``initial.below_grade_min``.
    Returns the columns of ``INITIAL_SCHEMA``.
    """
    lp = policy.limits
    step = lp.rounding.limit_step_minor
    ini = lp.initial
    basis = "score" if lp.grading.basis == "score" else "pd"
    grades = lp.grades
    lazy = _applicants(applicants, basis).lazy().with_columns(grade_expr(lp).alias("grade"))
    low = by_grade({g.code: g.initial_limit.min_minor for g in grades})
    high = by_grade({g.code: g.initial_limit.max_minor for g in grades})
    income_bp = by_grade(
        {
            g.code: percent_to_bp(g.caps.max_pct_of_annual_income)
            for g in grades
            if g.caps.max_pct_of_annual_income is not None
        }
    )
    lazy = lazy.with_columns(
        floor_to_step(low + (high - low) * position_ppm(lp) // PPM, step).alias("_placed"),
        pl.min_horizontal(
            floor_to_step(pct_of(pl.col("annual_income_minor"), income_bp), step),
            floor_to_step(pl.col(AFFORDABILITY_CAP), step),
        ).alias("_cap"),
        low.alias("_low"),
    )
    has_basis = pl.col(basis).is_not_null()
    capped = (pl.col("_cap") < pl.col("_placed")).fill_null(False)
    below_min = (pl.col("_cap") < pl.col("_low")).fill_null(False)
    declines = below_min & pl.lit(ini.below_grade_min == "decline")
    action = (
        pl.when(~has_basis)
        .then(pl.lit(InitialAction.REFER.value))
        .when(declines)
        .then(pl.lit(InitialAction.DECLINE.value))
        .otherwise(pl.lit(InitialAction.OFFER.value))
    )
    limit = (
        pl.when(~has_basis | declines)
        .then(None)
        .when(below_min)
        .then(pl.col("_low"))
        .when(capped)
        .then(pl.col("_cap"))
        .otherwise(pl.col("_placed"))
    )
    primary = (
        pl.when(~has_basis)
        .then(pl.lit(ini.no_score_reason))
        .when(declines)
        .then(pl.lit(ini.decline_reason))
        .otherwise(pl.lit(ini.offer_reason))
    )
    secondary = pl.when(has_basis & capped & ~declines).then(pl.lit(ini.capped_income_reason))
    lazy = lazy.with_columns(
        action.alias("action"),
        limit.alias("initial_limit_minor"),
        reason_list(primary, secondary.otherwise(None)).alias("reason_codes"),
        pl.lit(as_of, dtype=pl.Date).alias("as_of"),
        pl.lit(policy.version, dtype=pl.String).alias("policy_version"),
    )
    lazy = lazy.with_columns(reason_text_exprs(policy, reason_texts_key(reason_texts)))
    return lazy.select(
        [pl.col(name).cast(dtype) for name, dtype in INITIAL_SCHEMA.items()]
    ).collect()


def _applicants(table: pa.Table | pa.RecordBatch | pl.DataFrame, basis: str) -> pl.DataFrame:
    """Only the applicant columns the policy reads, in canonical types; null if absent."""
    frame = as_frame(table)
    if "applicant_id" not in frame.columns or basis not in frame.columns:
        raise DecisionInputError(f"applicant table needs columns applicant_id and {basis}")
    optional = {"score", "pd", "annual_income_minor", "reason_codes", "model_version"}
    exprs: list[pl.Expr] = [pl.col("applicant_id").cast(pl.String)]
    for name in sorted(optional | {AFFORDABILITY_CAP}):
        dtype = pl.Int64() if name == AFFORDABILITY_CAP else dtype_of(name)
        exprs.append(
            (
                pl.col(name).cast(dtype) if name in frame.columns else pl.lit(None, dtype=dtype)
            ).alias(name)
        )
    return frame.select(exprs)
