"""Deciding scored applications: grade, initial limit (or a decline) and reasons.

The one initial-limit function (``assign_initial_limit``) sets the limit, on the limit policy
graded by the application model's PD (``application_limit_policy``) and with the customer
policy's affordability cap: at most so many months of the income left after expenses. Then the
customer policy's decline rules are read in order; the first that holds declines the
application with its reason. Reasons: the decision's first, then the score's own adverse
reasons, at most four, in zh-CN and en. Pure: frames in, a frame out.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from cardpilot.domain.decisions import InitialAction
from cardpilot.domain.money import BP
from cardpilot.policy.base import percent_to_bp
from cardpilot.policy.conditions import compile_condition
from cardpilot.policy.customer import CustomerPolicy, application_limit_policy
from cardpilot.policy.initial_limits import AFFORDABILITY_CAP, assign_initial_limit
from cardpilot.policy.limit_arithmetic import by_grade, grade_expr
from cardpilot.policy.limit_reasons import (
    ReasonTexts,
    reason_list,
    reason_text_exprs,
    reason_texts_key,
)
from cardpilot.policy.schema import Policy

# What ``decide_applications`` returns, one row per application, in input order.
APPLICATION_DECISION_SCHEMA: dict[str, pl.DataType] = {
    "application_id": pl.String(),
    "as_of": pl.Date(),
    "grade": pl.String(),
    "action": pl.String(),
    "score": pl.Int64(),
    "pd": pl.Float64(),
    "initial_limit_minor": pl.Int64(),
    "grade_min_minor": pl.Int64(),
    "grade_max_minor": pl.Int64(),
    AFFORDABILITY_CAP: pl.Int64(),
    "reason_codes": pl.List(pl.String()),
    "reason_texts_zh": pl.List(pl.String()),
    "reason_texts_en": pl.List(pl.String()),
    "policy_version": pl.String(),
    "customer_policy_version": pl.String(),
    "model_version": pl.String(),
}


def affordability_cap(customer: CustomerPolicy, graded: Policy) -> pl.Expr:
    """The cap per application (fen): months of free income (income less expenses), or for an
    undeclared income the grade's minimum (``grade_min``) or nothing at all (``decline``:
    a cap of -1 fen, below every grade's minimum)."""
    apps = customer.applications
    assert apps is not None
    months_bp = percent_to_bp(apps.affordability.months_of_free_income * 100)
    free = pl.col("monthly_income_minor") - pl.col("monthly_expenses_minor").fill_null(0)
    low = by_grade({g.code: g.initial_limit.min_minor for g in graded.limits.grades})
    unknown = low if apps.affordability.unknown_income == "grade_min" else pl.lit(-1)
    return (
        pl.when(pl.col("monthly_income_minor").is_null())
        .then(unknown)
        .otherwise(free * months_bp // BP)
        .cast(pl.Int64)
    )


def decide_applications(
    scored: pl.DataFrame,
    limits: Policy,
    customer: CustomerPolicy,
    as_of: dt.date,
    *,
    reason_texts: ReasonTexts | None = None,
) -> pl.DataFrame:
    """Decide each scored application (``APPLICATION_DECISION_SCHEMA``).

    ``scored``: the application features (``cardpilot.scoring.application``) with ``score``,
    ``pd``, ``reason_codes`` (the model's adverse reasons) and ``model_version``.
    ``reason_texts``: texts of the score's own reason codes.
    """
    apps = customer.applications
    assert apps is not None
    graded = application_limit_policy(limits, customer)
    lp = graded.limits
    frame = scored.with_columns(grade_expr(lp).alias("grade"))
    frame = frame.with_columns(affordability_cap(customer, graded).alias(AFFORDABILITY_CAP))
    texts = {**(reason_texts or {}), **customer.reason_texts()}
    offers = assign_initial_limit(
        frame.select(
            pl.col("application_id").alias("applicant_id"),
            "score",
            "pd",
            (pl.col("monthly_income_minor") * 12).alias("annual_income_minor"),
            AFFORDABILITY_CAP,
            "reason_codes",
            "model_version",
        ),
        graded,
        as_of,
        reason_texts=texts,
    )
    rule = pl.lit(None, dtype=pl.String)
    for decline in reversed(apps.decline):
        rule = pl.when(compile_condition(decline.when)).then(pl.lit(decline.reason)).otherwise(rule)
    checked = frame.select(
        rule.alias("_rule"),
        AFFORDABILITY_CAP,
        pl.col("reason_codes").alias("_score_reasons"),
        pl.col("monthly_income_minor").is_null().alias("_no_income"),
    )
    decided = pl.concat([offers, checked], how="horizontal")
    ini = lp.initial
    income_codes = [ini.capped_income_reason, ini.decline_reason]
    declined = pl.col("_rule").is_not_null() & (pl.col("action") == InitialAction.OFFER.value)
    decided = decided.with_columns(
        pl.when(declined)
        .then(pl.lit(InitialAction.DECLINE.value))
        .otherwise(pl.col("action"))
        .alias("action"),
        pl.when(declined)
        .then(None)
        .otherwise(pl.col("initial_limit_minor"))
        .alias("initial_limit_minor"),
        pl.when(declined)
        .then(reason_list(pl.col("_rule"), score_reasons=pl.col("_score_reasons")))
        .when(pl.col("_no_income"))
        .then(
            reason_list(
                pl.lit(apps.affordability.unknown_income_reason),
                score_reasons=pl.col("reason_codes").list.eval(
                    pl.element().filter(~pl.element().is_in(income_codes))
                ),
            )
        )
        .otherwise(pl.col("reason_codes"))
        .alias("reason_codes"),
        by_grade({g.code: g.initial_limit.min_minor for g in lp.grades}).alias("grade_min_minor"),
        by_grade({g.code: g.initial_limit.max_minor for g in lp.grades}).alias("grade_max_minor"),
        pl.lit(customer.version, dtype=pl.String).alias("customer_policy_version"),
    ).rename({"applicant_id": "application_id"})
    decided = decided.with_columns(reason_text_exprs(graded, reason_texts_key(texts)))
    return decided.select([pl.col(n).cast(t) for n, t in APPLICATION_DECISION_SCHEMA.items()])
