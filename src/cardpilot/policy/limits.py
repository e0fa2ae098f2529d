"""The one vectorised limit-decision function.

``decide_limits(table, policy, as_of)`` turns a scored feature table into a decision table. It is
the only place limit decisions are made: the single-account call, the local (Arrow/Polars)
engine and the Spark engine (``mapInArrow``) all call it, so they cannot disagree.

Rules come from the policy as data: per-grade values are looked up by grade code
(``replace_strict``), conditions are compiled from the policy's condition language, guards
are an ordered list of (reason, expression) pairs generated from the policy. No per-grade
``if`` chains, no thresholds in code.

Money is integer fen throughout. Percentages are integer basis points. Limits are rounded down
to the policy's step (``rounding.limit_step_yuan``); the position of an account inside a
range is integer parts-per-million, so every engine computes the same numbers.

Protected attributes are never read: the input is narrowed to the columns the policy needs
before anything else happens (PIPL art. 24, no unreasonable differential treatment).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import polars as pl
import pyarrow as pa

from cardpilot.domain.decisions import LimitAction
from cardpilot.domain.money import BP
from cardpilot.frames import with_per_distinct
from cardpilot.policy import row_exprs
from cardpilot.policy.base import percent_to_bp
from cardpilot.policy.conditions import ColumnOf, compile_condition
from cardpilot.policy.initial_limits import INITIAL_SCHEMA, assign_initial_limit
from cardpilot.policy.limit_arithmetic import (
    PPM,
    by_grade,
    div_half_even,
    floor_to_step,
    grade_expr,
    months_since,
    pct_of,
    position_ppm,
)
from cardpilot.policy.limit_inputs import (
    DECISION_SCHEMA,
    OPTIONAL_COLUMNS,
    OVERDUE_COUNTS,
    DecisionInputError,
    decision_arrow_schema,
    input_columns,
    narrow_row,
    narrow_to_policy,
    required_columns,
    since_limit_change,
)
from cardpilot.policy.limit_reasons import (
    MAX_REASONS,
    ReasonTexts,
    reason_list,
    reason_text_exprs,
    reason_texts_key,
    score_reasons,
)
from cardpilot.policy.schema import LimitPolicy, Policy
from cardpilot.policy.segments import segment_expr
from cardpilot.policy.watch_actions import DEFAULT_HOLD_REASON

Expr = row_exprs.Expr

# Callers import the decision's names from here; they live in the modules named above.
__all__ = [
    "DECISION_SCHEMA",
    "INITIAL_SCHEMA",
    "MAX_REASONS",
    "OPTIONAL_COLUMNS",
    "OVERDUE_COUNTS",
    "PPM",
    "DecisionInputError",
    "ReasonTexts",
    "assign_initial_limit",
    "decide_limits",
    "decision_arrow_schema",
    "grade_expr",
    "input_columns",
    "required_columns",
    "since_limit_change",
]


def _trigger_column(ns: ModuleType) -> ColumnOf:
    """How a decrease trigger reads a feature: an overdue count since the last limit change."""

    def column(name: str) -> Expr:
        if name in OVERDUE_COUNTS:
            return ns.coalesce(ns.col(since_limit_change(name)), ns.col(name))
        return ns.col(name)

    return column


def _increase_blockers(
    policy: LimitPolicy, as_of: dt.date, ns: ModuleType
) -> list[tuple[str, Expr]]:
    """Ordered (reason code, expression) pairs that forbid an increase, generated from policy."""
    guards = policy.guards
    col = ns.col
    blockers: list[tuple[str, Expr]] = [
        (policy.review.not_due_reason, ~col("due_for_review")),
        (policy.decision_reasons.grade_no_increase, col("_inc_min_bp").is_null()),
    ]
    if guards.no_increase_while_overdue:
        # Unknown overdue status blocks: the guard exists for safety.
        overdue = (col("months_overdue_latest") >= 1) | (col("consecutive_overdue_months") >= 1)
        blockers.append((guards.overdue_reason, overdue.fill_null(True)))
    if guards.recent_overdue_months > 0:
        recent = col("months_since_last_overdue") < guards.recent_overdue_months
        blockers.append((guards.recent_overdue_reason, recent.fill_null(False)))
    if guards.min_months_on_book > 0:
        young = col("months_on_book") < guards.min_months_on_book
        unknown_blocks = guards.unknown_months_on_book == "block"
        blockers.append((guards.months_on_book_reason, young.fill_null(unknown_blocks)))
    if guards.cooling_months > 0:
        cooling = col("months_since_limit_change") < guards.cooling_months
        blockers.append((guards.cooling_reason, cooling.fill_null(False)))
    # A hold on increases a watch flag raised (stored, so it holds whatever the policy now says).
    actions = policy.watch_actions
    hold_reason = actions.hold_reason if actions is not None else DEFAULT_HOLD_REASON
    held = col("increase_hold_until") > ns.lit(as_of, dtype=pl.Date)
    blockers.append((hold_reason, held.fill_null(False)))
    for guard in guards.custom:
        blockers.append((guard.reason, compile_condition(guard.when, ns=ns)))
    for seg in policy.segments:
        if seg.increase == "block":
            assert seg.block_reason is not None
            blockers.append((seg.block_reason, col("segment") == seg.code))
    reasons = policy.decision_reasons
    old = col("credit_limit_minor")
    # A cap below the smallest increase blocks it; so does a cap at or below the current limit
    # (rounding the smallest increase down to the step can bring it below the limit): capping
    # there would turn an increase into a cut or into nothing, so the limit is kept instead.
    for reason, cap in ((reasons.cap_grade, "_grade_cap"), (reasons.cap_income, "_income_cap")):
        blockers.append((reason, (col(cap) < col("_min_new")) | (col(cap) <= old)))
    blockers.append((reasons.step_too_small, col("_proposed") <= old))
    return blockers


def decide_limits(
    table: pa.Table | pa.RecordBatch | pl.DataFrame,
    policy: Policy,
    as_of: dt.date,
    *,
    reason_texts: ReasonTexts | None = None,
) -> pl.DataFrame:
    """Decide increase / keep / decrease for every row of a scored feature table.

    ``table``: one row per account with the "Scores" and "Feature table" columns of
    docs/CONTRACTS.md, plus optional ``last_review_on`` and ``last_limit_change_on`` dates.
    ``reason_texts``: texts for the score's own reason codes (``{code: {locale: text}}``).
    Returns one row per input row, in input order, with the columns of ``DECISION_SCHEMA``.
    """
    frame = narrow_to_policy(table, required_columns(policy.limits), set(OPTIONAL_COLUMNS))
    # Eager stages: for large batches as fast as a lazy query, whose planning costs more.
    plan = _review_plan(policy, as_of, reason_texts_key(reason_texts), pl)
    for stage in plan.stages:
        frame = frame.with_columns(stage)
    # The reason lists and their texts read three columns with few distinct combinations
    # (about a hundred per 100,000 accounts): list work once per combination.
    frame = with_per_distinct(frame, _REASON_INPUTS, plan.reasons)
    return frame.select(_decision_columns())


def decide_limit_row(
    features: Mapping[str, Any],
    policy: Policy,
    as_of: dt.date,
    *,
    reason_texts: ReasonTexts | None = None,
) -> dict[str, Any]:
    """``decide_limits`` for one account's row (a mapping of the feature table's columns),
    evaluated in plain Python: the same plan, generated from the policy with
    ``policy.row_exprs`` as its expressions. Returns the decision row (``DECISION_SCHEMA``).

    A frame's per-call overhead costs milliseconds, the row's own work microseconds: this is
    the HTTP service's decision. tests/policy/test_row_decisions.py holds it equal to
    ``decide_limits``."""
    row = narrow_row(features, required_columns(policy.limits), set(OPTIONAL_COLUMNS))
    plan = _review_plan(policy, as_of, reason_texts_key(reason_texts), row_exprs)
    for stage in [*plan.stages, plan.reasons]:
        # Within a stage every expression reads the row as it was before the stage.
        row |= {expr.name: expr.fn(row) for expr in stage}
    return {name: row_exprs.cast_value(row[name], dtype) for name, dtype in _ROW_DTYPES}


_ROW_DTYPES = tuple(DECISION_SCHEMA.items())


def _decision_columns() -> list[pl.Expr]:
    return [pl.col(name).cast(dtype) for name, dtype in DECISION_SCHEMA.items()]


@dataclass(frozen=True)
class _ReviewPlan:
    """The review's expressions: ``stages`` in order, then ``reasons`` (reason codes and their
    texts), which read only the columns of ``_REASON_INPUTS``. Polars expressions, or
    ``row_exprs.RowExpr`` for one row."""

    stages: list[list[Expr]]
    reasons: list[Expr]


# The decision's own primary and secondary reason, and the score's reasons in its direction.
_REASON_INPUTS = ("_reason_primary", "_reason_secondary", "_score_reasons")

_PlanKey = tuple[str, dt.date, tuple[tuple[str, str, str], ...], str]
_PLAN_CACHE: dict[_PlanKey, _ReviewPlan] = {}


def _review_plan(
    policy: Policy, as_of: dt.date, texts_key: tuple[tuple[str, str, str], ...], ns: ModuleType
) -> _ReviewPlan:
    """The review as ordered stages of expressions of ``ns`` (``polars``, or ``row_exprs`` for
    one row), generated from the policy.

    Cached per (policy version, as-of, extra texts, namespace): the version holds the content
    hash, so a cached plan is always the plan of exactly this policy. Building it costs more
    than running it on one account, which is what the API does.
    """
    key = (policy.version, as_of, texts_key, ns.__name__)
    plan = _PLAN_CACHE.get(key)
    if plan is None:
        if len(_PLAN_CACHE) > 64:
            _PLAN_CACHE.clear()
        plan = _build_review_plan(policy, as_of, texts_key, ns)
        _PLAN_CACHE[key] = plan
    return plan


def _build_review_plan(
    policy: Policy, as_of: dt.date, texts_key: tuple[tuple[str, str, str], ...], ns: ModuleType
) -> _ReviewPlan:
    lp = policy.limits
    stages = [
        *_grading_stages(lp, as_of, ns),
        *_amount_stages(lp, ns),
        *_action_stages(policy, as_of, ns),
    ]
    codes = reason_list(
        ns.col("_reason_primary"),
        ns.col("_reason_secondary"),
        score_reasons=ns.col("_score_reasons"),
        ns=ns,
    )
    return _ReviewPlan(
        stages, [codes.alias("reason_codes"), *reason_text_exprs(policy, texts_key, codes, ns)]
    )


def _grading_stages(lp: LimitPolicy, as_of: dt.date, ns: ModuleType) -> list[list[Expr]]:
    """Grade, segment and review timing, then each grade's policy values looked up per row."""
    grades = lp.grades
    col = ns.col
    inc_min = {g.code: percent_to_bp(g.increase_pct.min) for g in grades if g.increase_pct}
    inc_max = {g.code: percent_to_bp(g.increase_pct.max) for g in grades if g.increase_pct}
    income_cap = {
        g.code: percent_to_bp(g.caps.max_pct_of_annual_income)
        for g in grades
        if g.caps.max_pct_of_annual_income is not None
    }
    pull = {s.code: int(s.placement_pull * PPM) for s in lp.segments}
    trigger = _trigger_column(ns)
    return [
        [
            grade_expr(lp, ns).alias("grade"),
            segment_expr(lp, ns).alias("segment"),
            months_since("last_review_on", as_of, ns).alias("months_since_review"),
            months_since("last_limit_change_on", as_of, ns).alias("months_since_limit_change"),
        ],
        [
            (
                col("months_since_review").is_null()
                | (col("months_since_review") >= lp.review.cycle_months)
            ).alias("due_for_review"),
            position_ppm(lp, ns).alias("_pos"),
            col("segment").replace_strict(pull, return_dtype=pl.Int64).alias("_pull"),
            by_grade(inc_min, ns=ns).alias("_inc_min_bp"),
            by_grade(inc_max, ns=ns).alias("_inc_max_bp"),
            by_grade({g.code: g.caps.max_limit_minor for g in grades}, ns=ns).alias("_grade_cap"),
            by_grade(income_cap, ns=ns).alias("_income_cap_bp"),
            ns.any_horizontal(
                [
                    (
                        (col("grade") == g.code)
                        & compile_condition(g.decrease.when, column=trigger, ns=ns)
                    ).fill_null(False)
                    for g in grades
                ]
            ).alias("_trigger"),
            by_grade({g.code: percent_to_bp(g.decrease.cut_pct) for g in grades}, ns=ns).alias(
                "_cut_bp"
            ),
            by_grade({g.code: g.decrease.floor_minor for g in grades}, ns=ns).alias("_floor"),
        ],
    ]


def _amount_stages(lp: LimitPolicy, ns: ModuleType) -> list[list[Expr]]:
    """The increase percentage, the caps, the decreased and the proposed limit, in fen."""
    step = lp.rounding.limit_step_minor
    pct_step = percent_to_bp(lp.rounding.increase_pct_step)
    col = ns.col
    old = col("credit_limit_minor")
    # Segment placement: a positive pull moves the position towards the top of the range,
    # a negative one towards the bottom, in proportion to the room left on that side.
    pos, pull_e = col("_pos"), col("_pull")
    placed = (
        ns.when(pull_e >= 0)
        .then(pos + (PPM - pos) * pull_e // PPM)
        .otherwise(pos + pos * pull_e // PPM)
        .clip(0, PPM)
    )
    lo, hi = col("_inc_min_bp"), col("_inc_max_bp")
    return [
        [
            ((lo + (hi - lo) * placed // PPM) // pct_step * pct_step).clip(lo, hi).alias("_pct_bp"),
            floor_to_step(pct_of(col("annual_income_minor"), col("_income_cap_bp")), step).alias(
                "_income_cap"
            ),
            ns.max_horizontal(
                floor_to_step(pct_of(old, BP - col("_cut_bp")), step), col("_floor")
            ).alias("_decreased"),
        ],
        [
            floor_to_step(pct_of(old, BP + col("_pct_bp")), step).alias("_proposed"),
            floor_to_step(pct_of(old, BP + lo), step).alias("_min_new"),
            ns.min_horizontal(col("_grade_cap"), col("_income_cap")).alias("_ceiling"),
        ],
    ]


def _action_stages(policy: Policy, as_of: dt.date, ns: ModuleType) -> list[list[Expr]]:
    """Why the limit is kept (if it is), the action, the new limit and the decision's reasons."""
    lp = policy.limits
    grades = lp.grades
    col, lit = ns.col, ns.lit
    old = col("credit_limit_minor")
    has_basis = col("score" if lp.grading.basis == "score" else "pd").is_not_null()
    increase_reason = {s.code: s.increase_reason or lp.review.increase_reason for s in lp.segments}
    stages: list[list[Expr]] = []

    reasons = lp.decision_reasons
    decrease_applies = col("_trigger") & (
        lit(lp.review.decrease_between_reviews) | col("due_for_review")
    )
    keep_reasons: list[tuple[str, Expr]] = [
        (reasons.no_score, ~has_basis),
        (lp.review.not_due_reason, col("_trigger") & ~decrease_applies),
        (reasons.at_floor, decrease_applies & (col("_decreased") >= old)),
        *_increase_blockers(lp, as_of, ns),
    ]
    keep_reason = ns.coalesce(
        [ns.when(cond.fill_null(False)).then(lit(code)) for code, cond in keep_reasons]
    )
    stages.append([keep_reason.alias("_keep_reason")])
    action = (
        ns.when(has_basis & decrease_applies & (col("_decreased") < old))
        .then(lit(LimitAction.DECREASE.value))
        .when(col("_keep_reason").is_null())
        .then(lit(LimitAction.INCREASE.value))
        .otherwise(lit(LimitAction.KEEP.value))
    )
    stages.append([action.alias("action")])
    is_inc = col("action") == LimitAction.INCREASE.value
    is_dec = col("action") == LimitAction.DECREASE.value
    capped = is_inc & (col("_ceiling") < col("_proposed")).fill_null(False)
    primary = (
        ns.when(is_dec)
        .then(by_grade({g.code: g.decrease.reason for g in grades}, pl.String(), ns))
        .when(is_inc)
        .then(col("segment").replace_strict(increase_reason, return_dtype=pl.String))
        .otherwise(col("_keep_reason"))
    )
    secondary = (
        ns.when(capped & (col("_ceiling") == col("_grade_cap")))
        .then(lit(reasons.capped_grade))
        .when(capped)
        .then(lit(reasons.capped_income))
        .otherwise(lit(None, dtype=pl.String))
    )
    new_limit = (
        ns.when(is_dec)
        .then(col("_decreased"))
        .when(is_inc)
        .then(ns.min_horizontal(col("_proposed"), col("_ceiling")))
        .otherwise(old)
    )
    stages.append(
        [
            new_limit.alias("new_limit_minor"),
            # The percentage applied, after the caps and the rounding down to the step.
            ns.when(is_inc)
            .then(div_half_even((new_limit - old) * BP, old))
            .otherwise(None)
            .alias("increase_pct_bp"),
            primary.alias("_reason_primary"),
            secondary.alias("_reason_secondary"),
            score_reasons(is_inc, ns).alias("_score_reasons"),
            old.alias("old_limit_minor"),
            lit(as_of, dtype=pl.Date).alias("as_of"),
            lit(policy.version, dtype=pl.String).alias("policy_version"),
        ]
    )
    return stages
