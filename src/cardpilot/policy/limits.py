"""The one vectorised limit-decision function, and initial limits for applicants.

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
from typing import Any

import polars as pl
import pyarrow as pa

from cardpilot.domain.decisions import InitialAction, LimitAction
from cardpilot.domain.money import BP
from cardpilot.frames import with_per_distinct
from cardpilot.policy.base import percent_to_bp
from cardpilot.policy.condition_syntax import condition_features
from cardpilot.policy.conditions import compile_condition
from cardpilot.policy.schema import FEATURE_COLUMNS, LimitPolicy, Policy
from cardpilot.policy.segments import segment_expr, segment_features
from cardpilot.policy.watch_actions import DEFAULT_HOLD_REASON

PPM = 1_000_000  # positions inside a range, parts per million
MAX_REASONS = 4  # ECOA/Reg B commentary: more than four reasons do not help (REGULATION.md)

_KIND_DTYPE: dict[str, pl.DataType] = {
    "int": pl.Int64(),
    "float": pl.Float64(),
    "str": pl.String(),
    "money": pl.Int64(),
}

# Columns the engine reads besides the condition features, with their canonical types.
_BASE_DTYPES: dict[str, pl.DataType] = {
    "account_id": pl.String(),
    "score": pl.Int64(),
    "pd": pl.Float64(),
    "reason_codes": pl.List(pl.String()),
    "positive_codes": pl.List(pl.String()),
    "model_version": pl.String(),
    "credit_limit_minor": pl.Int64(),
    "annual_income_minor": pl.Int64(),
    "months_on_book": pl.Int64(),
    "months_overdue_latest": pl.Int64(),
    "consecutive_overdue_months": pl.Int64(),
    "months_since_last_overdue": pl.Int64(),
    "last_review_on": pl.Date(),
    "last_limit_change_on": pl.Date(),
    # The end of a hold on increases raised by a watch flag (policy/watch_actions.py).
    "increase_hold_until": pl.Date(),
}
# The overdue counts a decrease trigger reads as counted since the account's last limit change,
# so a cut is never made twice on the same overdue months: ``<name>_since_limit_change``
# (``since_limit_change``) when the row has it, else the count over the whole window (an account
# never changed, or whose statements all postdate the change).
OVERDUE_COUNTS = (
    "months_overdue_latest",
    "max_months_overdue_6m",
    "overdue_count_3m",
    "overdue_count_6m",
    "consecutive_overdue_months",
)


def since_limit_change(name: str) -> str:
    """The column of an overdue count (``OVERDUE_COUNTS``) counted since the last limit change."""
    return f"{name}_since_limit_change"


_SINCE_CHANGE_DTYPES: dict[str, pl.DataType] = {
    since_limit_change(name): pl.Int64() for name in OVERDUE_COUNTS
}
_BASE_DTYPES |= _SINCE_CHANGE_DTYPES
# May be absent: filled with nulls (unknown) and handled by explicit policy rules. The grading
# basis (score or pd) is optional only when the other one is the basis.
OPTIONAL_COLUMNS = frozenset(
    {
        "score",
        "pd",
        "reason_codes",
        "positive_codes",
        "model_version",
        "annual_income_minor",
        "months_on_book",
        "last_review_on",
        "last_limit_change_on",
        "increase_hold_until",
        *_SINCE_CHANGE_DTYPES,
    }
)
_DERIVED = frozenset({"months_since_review", "months_since_limit_change"})

# The decision table. Spark's output schema is derived from this, so the engines agree.
DECISION_SCHEMA: dict[str, pl.DataType] = {
    "account_id": pl.String(),
    "as_of": pl.Date(),
    "due_for_review": pl.Boolean(),
    "grade": pl.String(),
    "segment": pl.String(),
    "action": pl.String(),
    "score": pl.Int64(),
    "pd": pl.Float64(),
    "old_limit_minor": pl.Int64(),
    "new_limit_minor": pl.Int64(),
    "increase_pct_bp": pl.Int64(),
    "reason_codes": pl.List(pl.String()),
    "reason_texts_zh": pl.List(pl.String()),
    "reason_texts_en": pl.List(pl.String()),
    "policy_version": pl.String(),
    "model_version": pl.String(),
}

INITIAL_SCHEMA: dict[str, pl.DataType] = {
    "applicant_id": pl.String(),
    "as_of": pl.Date(),
    "grade": pl.String(),
    "action": pl.String(),
    "score": pl.Int64(),
    "pd": pl.Float64(),
    "initial_limit_minor": pl.Int64(),
    "reason_codes": pl.List(pl.String()),
    "reason_texts_zh": pl.List(pl.String()),
    "reason_texts_en": pl.List(pl.String()),
    "policy_version": pl.String(),
    "model_version": pl.String(),
}

ReasonTexts = Mapping[str, Mapping[str, str]]


class DecisionInputError(ValueError):
    """The feature table cannot be decided on: says which column and what to do."""


# --------------------------------------------------------------------------- input


def required_columns(policy: LimitPolicy) -> set[str]:
    """Columns the feature table must have for this policy."""
    needed = {"account_id", "credit_limit_minor"}
    needed |= segment_features(policy)
    for grade in policy.grades:
        needed |= condition_features(grade.decrease.when)
    for guard in policy.guards.custom:
        needed |= condition_features(guard.when)
    if policy.guards.no_increase_while_overdue:
        needed |= {"months_overdue_latest", "consecutive_overdue_months"}
    if policy.guards.recent_overdue_months > 0:
        needed.add("months_since_last_overdue")
    basis = "score" if policy.grading.basis == "score" else "pd"
    return ((needed - _DERIVED) - OPTIONAL_COLUMNS) | {basis}


def input_columns(policy: LimitPolicy) -> set[str]:
    """Every column ``decide_limits`` reads (required and optional); all others are ignored."""
    return required_columns(policy) | set(OPTIONAL_COLUMNS)


def _dtype_of(name: str) -> pl.DataType:
    if name in _BASE_DTYPES:
        return _BASE_DTYPES[name]
    return _KIND_DTYPE[FEATURE_COLUMNS[name]]


def _as_frame(table: pa.Table | pa.RecordBatch | pl.DataFrame) -> pl.DataFrame:
    if isinstance(table, pl.DataFrame):
        return table
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return frame


def _normalise(
    table: pa.Table | pa.RecordBatch | pl.DataFrame,
    needed: set[str],
    optional: set[str],
) -> pl.DataFrame:
    """Only the columns the policy reads, in canonical types; optional ones null if absent.

    Selecting first is what keeps protected attributes (and anything else) out of a decision.
    """
    frame = _as_frame(table)
    missing = sorted(needed - set(frame.columns))
    if missing:
        raise DecisionInputError(
            f"feature table lacks column(s) {missing} that the policy reads; build it with "
            "cardpilot.scoring.features.behaviour_features and score it first"
        )
    exprs = []
    for name in sorted(needed | optional):
        dtype = _dtype_of(name)
        if name in frame.columns:
            exprs.append(pl.col(name).cast(dtype).alias(name))
        else:
            exprs.append(pl.lit(None, dtype=dtype).alias(name))
    out = frame.select(exprs)
    for key in ("account_id", "credit_limit_minor"):
        if key in out.columns and out[key].null_count():
            raise DecisionInputError(
                f"column {key} has {out[key].null_count()} null value(s); every row needs one"
            )
    return out


def _months_since(column: str, as_of: dt.date) -> pl.Expr:
    """Whole calendar months from the date in ``column`` to ``as_of`` (null stays null)."""
    d = pl.col(column)
    months = (as_of.year * 12 + as_of.month) - (
        d.dt.year().cast(pl.Int64) * 12 + d.dt.month().cast(pl.Int64)
    )
    return months - (d.dt.day() > as_of.day).cast(pl.Int64)


# --------------------------------------------------------------------------- grading


def grade_expr(policy: LimitPolicy) -> pl.Expr:
    """Grade code per row from the policy's cut-offs; null when the basis value is null.

    Values outside the scale are clamped to its ends (a score above the scale is the best grade).
    """
    grades = policy.grades
    expr: pl.Expr = pl.lit(grades[-1].code, dtype=pl.String)
    if policy.grading.basis == "score":
        scale = policy.grading.score_scale
        value = pl.col("score").clip(scale.min, scale.max)
        for grade in reversed(grades[:-1]):
            assert grade.score is not None
            expr = pl.when(value >= grade.score.min).then(pl.lit(grade.code)).otherwise(expr)
        return pl.when(pl.col("score").is_null()).then(None).otherwise(expr)
    value = pl.col("pd").clip(0.0, 1.0)
    for grade in reversed(grades[:-1]):
        assert grade.pd is not None
        expr = pl.when(value < grade.pd.max).then(pl.lit(grade.code)).otherwise(expr)
    return pl.when(pl.col("pd").is_null()).then(None).otherwise(expr)


def _by_grade(
    values: Mapping[str, int | float | str | None], dtype: pl.DataType | None = None
) -> pl.Expr:
    """A per-grade policy value looked up by the row's grade (null for no grade / no value)."""
    return pl.col("grade").replace_strict(
        dict(values), default=None, return_dtype=dtype or pl.Int64()
    )


def _position_ppm(policy: LimitPolicy) -> pl.Expr:
    """Where the row sits inside its grade's band: 0 = the band's worst end, 1e6 = its best."""
    if policy.grading.basis == "score":
        scale = policy.grading.score_scale
        low = _by_grade({g.code: g.score.min for g in policy.grades if g.score is not None})
        high = _by_grade({g.code: g.score.max for g in policy.grades if g.score is not None})
        value = pl.col("score").clip(scale.min, scale.max)
        width = high - low
        pos = pl.when(width <= 0).then(PPM).otherwise((value - low) * PPM // width)
    else:
        low_f = _by_grade(
            {g.code: g.pd.min for g in policy.grades if g.pd is not None},
            pl.Float64(),
        )
        high_f = _by_grade(
            {g.code: g.pd.max for g in policy.grades if g.pd is not None},
            pl.Float64(),
        )
        value_f = pl.col("pd").clip(0.0, 1.0)
        pos = ((high_f - value_f) / (high_f - low_f) * PPM).floor().cast(pl.Int64)
    return pos.clip(0, PPM)


def _trigger_column(name: str) -> pl.Expr:
    """A feature as a decrease trigger reads it: an overdue count since the last limit change."""
    if name in OVERDUE_COUNTS:
        return pl.coalesce(pl.col(since_limit_change(name)), pl.col(name))
    return pl.col(name)


def _floor_to_step(amount: pl.Expr, step: int) -> pl.Expr:
    """Round a fen amount down to the policy's limit step."""
    return amount // step * step


def _pct_of(amount: pl.Expr, bp: pl.Expr | int) -> pl.Expr:
    """``amount × bp / 10 000``, rounded down, in integer arithmetic."""
    return amount * bp // BP


# --------------------------------------------------------------------------- reasons


def _score_reasons(is_inc: pl.Expr) -> pl.Expr:
    """The score's reasons in the decision's direction: an increase states the positive
    factors that earned it (``positive_codes``), every other outcome the adverse reasons
    (``reason_codes``), as adverse-action practice asks (REGULATION.md). A scorer that gives
    no positive factors leaves an increase with the decision's own reasons only."""
    return pl.when(is_inc).then(pl.col("positive_codes")).otherwise(pl.col("reason_codes"))


def _reason_text_exprs(
    policy: Policy,
    texts_key: tuple[tuple[str, str, str], ...],
    codes: pl.Expr | None = None,
) -> list[pl.Expr]:
    """``reason_texts_zh`` and ``reason_texts_en`` of ``codes`` (default: the
    ``reason_codes`` column): the policy's texts, then the caller's texts for the score's
    own codes; an unknown code shows as itself."""
    codes = pl.col("reason_codes") if codes is None else codes
    zh: dict[str, str] = {code: text_zh for code, text_zh, _ in texts_key}
    en: dict[str, str] = {code: text_en for code, _, text_en in texts_key}
    for code, text in policy.reasons.reasons.items():
        zh[code] = text.zh_cn
        en[code] = text.en

    def texts_of(mapping: dict[str, str]) -> pl.Expr:
        return codes.list.eval(
            pl.element().replace_strict(mapping, default=pl.element(), return_dtype=pl.String)
        )

    return [texts_of(zh).alias("reason_texts_zh"), texts_of(en).alias("reason_texts_en")]


def _reason_list(*parts: pl.Expr, score_reasons: pl.Expr | None = None) -> pl.Expr:
    """Decision reasons first, then the score's own reasons (default: ``reason_codes``);
    nulls dropped, at most four."""
    score_reasons = (pl.col("reason_codes") if score_reasons is None else score_reasons).fill_null(
        pl.lit([], dtype=pl.List(pl.String))
    )
    return (
        pl.concat_list([*parts, score_reasons])
        .list.drop_nulls()
        .list.unique(maintain_order=True)
        .list.head(MAX_REASONS)
    )


# --------------------------------------------------------------------------- the review


def _div_half_even(numerator: pl.Expr, denominator: pl.Expr) -> pl.Expr:
    """``numerator / denominator`` rounded half to even (the policy's one rounding of basis
    points, ``policy.base.percent_to_bp``), in integers; both non-negative, denominator > 0."""
    quotient = numerator // denominator
    twice_rest = (numerator - quotient * denominator) * 2
    up = (twice_rest > denominator) | ((twice_rest == denominator) & (quotient % 2 == 1))
    return quotient + up.cast(pl.Int64)


def _increase_blockers(policy: LimitPolicy, as_of: dt.date) -> list[tuple[str, pl.Expr]]:
    """Ordered (reason code, expression) pairs that forbid an increase, generated from policy."""
    guards = policy.guards
    blockers: list[tuple[str, pl.Expr]] = [
        (policy.review.not_due_reason, ~pl.col("due_for_review")),
        (policy.decision_reasons.grade_no_increase, pl.col("_inc_min_bp").is_null()),
    ]
    if guards.no_increase_while_overdue:
        # Unknown overdue status blocks: the guard exists for safety.
        overdue = (pl.col("months_overdue_latest") >= 1) | (
            pl.col("consecutive_overdue_months") >= 1
        )
        blockers.append((guards.overdue_reason, overdue.fill_null(True)))
    if guards.recent_overdue_months > 0:
        recent = pl.col("months_since_last_overdue") < guards.recent_overdue_months
        blockers.append((guards.recent_overdue_reason, recent.fill_null(False)))
    if guards.min_months_on_book > 0:
        young = pl.col("months_on_book") < guards.min_months_on_book
        unknown_blocks = guards.unknown_months_on_book == "block"
        blockers.append((guards.months_on_book_reason, young.fill_null(unknown_blocks)))
    if guards.cooling_months > 0:
        cooling = pl.col("months_since_limit_change") < guards.cooling_months
        blockers.append((guards.cooling_reason, cooling.fill_null(False)))
    # A hold on increases a watch flag raised (stored, so it holds whatever the policy now says).
    actions = policy.watch_actions
    hold_reason = actions.hold_reason if actions is not None else DEFAULT_HOLD_REASON
    held = pl.col("increase_hold_until") > pl.lit(as_of, dtype=pl.Date)
    blockers.append((hold_reason, held.fill_null(False)))
    for guard in guards.custom:
        blockers.append((guard.reason, compile_condition(guard.when)))
    for seg in policy.segments:
        if seg.increase == "block":
            assert seg.block_reason is not None
            blockers.append((seg.block_reason, pl.col("segment") == seg.code))
    reasons = policy.decision_reasons
    old = pl.col("credit_limit_minor")
    # A cap below the smallest increase blocks it; so does a cap at or below the current limit
    # (rounding the smallest increase down to the step can bring it below the limit): capping
    # there would turn an increase into a cut or into nothing, so the limit is kept instead.
    for reason, cap in ((reasons.cap_grade, "_grade_cap"), (reasons.cap_income, "_income_cap")):
        blockers.append((reason, (pl.col(cap) < pl.col("_min_new")) | (pl.col(cap) <= old)))
    blockers.append((reasons.step_too_small, pl.col("_proposed") <= old))
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
    frame = _normalise(table, required_columns(policy.limits), set(OPTIONAL_COLUMNS))
    # Eager stages: for one account (the API) this is several times faster than a lazy query,
    # whose planning costs more than the work; for large batches it is as fast.
    plan = _review_plan(policy, as_of, _texts_key(reason_texts))
    for stage in plan.stages:
        frame = frame.with_columns(stage)
    # The reason lists and their texts read three columns with few distinct combinations
    # (about a hundred per 100,000 accounts): list work once per combination.
    frame = with_per_distinct(frame, _REASON_INPUTS, plan.reasons)
    return frame.select(_decision_columns())


def _texts_key(texts: ReasonTexts | None) -> tuple[tuple[str, str, str], ...]:
    if not texts:
        return ()
    return tuple(
        sorted((code, t.get("zh-CN", code), t.get("en", code)) for code, t in texts.items())
    )


def _decision_columns() -> list[pl.Expr]:
    return [pl.col(name).cast(dtype) for name, dtype in DECISION_SCHEMA.items()]


@dataclass(frozen=True)
class _ReviewPlan:
    """The review's expressions: ``stages`` in order, then ``reasons`` (reason codes and their
    texts), which read only the columns of ``_REASON_INPUTS``."""

    stages: list[list[pl.Expr]]
    reasons: list[pl.Expr]


# The decision's own primary and secondary reason, and the score's reasons in its direction.
_REASON_INPUTS = ("_reason_primary", "_reason_secondary", "_score_reasons")

_PLAN_CACHE: dict[tuple[str, dt.date, tuple[tuple[str, str, str], ...]], _ReviewPlan] = {}


def _review_plan(
    policy: Policy, as_of: dt.date, texts_key: tuple[tuple[str, str, str], ...]
) -> _ReviewPlan:
    """The review as ordered stages of Polars expressions, generated from the policy.

    Cached per (policy version, as-of, extra texts): the version holds the content hash, so a
    cached plan is always the plan of exactly this policy. Building it costs more than
    running it on one account, which is what the API does.
    """
    key = (policy.version, as_of, texts_key)
    plan = _PLAN_CACHE.get(key)
    if plan is None:
        if len(_PLAN_CACHE) > 64:
            _PLAN_CACHE.clear()
        plan = _build_review_plan(policy, as_of, texts_key)
        _PLAN_CACHE[key] = plan
    return plan


def _build_review_plan(
    policy: Policy, as_of: dt.date, texts_key: tuple[tuple[str, str, str], ...]
) -> _ReviewPlan:
    lp = policy.limits
    step = lp.rounding.limit_step_minor
    pct_step = percent_to_bp(lp.rounding.increase_pct_step)
    grades = lp.grades
    stages: list[list[pl.Expr]] = []

    inc_min = {g.code: percent_to_bp(g.increase_pct.min) for g in grades if g.increase_pct}
    inc_max = {g.code: percent_to_bp(g.increase_pct.max) for g in grades if g.increase_pct}
    pull = {s.code: int(s.placement_pull * PPM) for s in lp.segments}
    increase_reason = {s.code: s.increase_reason or lp.review.increase_reason for s in lp.segments}
    old = pl.col("credit_limit_minor")
    has_basis = pl.col("score" if lp.grading.basis == "score" else "pd").is_not_null()

    stages.append(
        [
            grade_expr(lp).alias("grade"),
            segment_expr(lp).alias("segment"),
            _months_since("last_review_on", as_of).alias("months_since_review"),
            _months_since("last_limit_change_on", as_of).alias("months_since_limit_change"),
        ]
    )
    stages.append(
        [
            (
                pl.col("months_since_review").is_null()
                | (pl.col("months_since_review") >= lp.review.cycle_months)
            ).alias("due_for_review"),
            _position_ppm(lp).alias("_pos"),
            pl.col("segment").replace_strict(pull, return_dtype=pl.Int64).alias("_pull"),
            _by_grade(inc_min).alias("_inc_min_bp"),
            _by_grade(inc_max).alias("_inc_max_bp"),
            _by_grade({g.code: g.caps.max_limit_minor for g in grades}).alias("_grade_cap"),
            _by_grade(
                {
                    g.code: percent_to_bp(g.caps.max_pct_of_annual_income)
                    for g in grades
                    if g.caps.max_pct_of_annual_income is not None
                }
            ).alias("_income_cap_bp"),
            pl.any_horizontal(
                [
                    (
                        (pl.col("grade") == g.code)
                        & compile_condition(g.decrease.when, column=_trigger_column)
                    ).fill_null(False)
                    for g in grades
                ]
            ).alias("_trigger"),
            _by_grade({g.code: percent_to_bp(g.decrease.cut_pct) for g in grades}).alias("_cut_bp"),
            _by_grade({g.code: g.decrease.floor_minor for g in grades}).alias("_floor"),
        ]
    )
    # Segment placement: a positive pull moves the position towards the top of the range,
    # a negative one towards the bottom, in proportion to the room left on that side.
    pos, pull_e = pl.col("_pos"), pl.col("_pull")
    placed = (
        pl.when(pull_e >= 0)
        .then(pos + (PPM - pos) * pull_e // PPM)
        .otherwise(pos + pos * pull_e // PPM)
        .clip(0, PPM)
    )
    lo, hi = pl.col("_inc_min_bp"), pl.col("_inc_max_bp")
    stages.append(
        [
            ((lo + (hi - lo) * placed // PPM) // pct_step * pct_step).clip(lo, hi).alias("_pct_bp"),
            _floor_to_step(
                _pct_of(pl.col("annual_income_minor"), pl.col("_income_cap_bp")), step
            ).alias("_income_cap"),
            pl.max_horizontal(
                _floor_to_step(_pct_of(old, BP - pl.col("_cut_bp")), step), pl.col("_floor")
            ).alias("_decreased"),
        ]
    )
    stages.append(
        [
            _floor_to_step(_pct_of(old, BP + pl.col("_pct_bp")), step).alias("_proposed"),
            _floor_to_step(_pct_of(old, BP + lo), step).alias("_min_new"),
            pl.min_horizontal(pl.col("_grade_cap"), pl.col("_income_cap")).alias("_ceiling"),
        ]
    )

    reasons = lp.decision_reasons
    decrease_applies = pl.col("_trigger") & (
        pl.lit(lp.review.decrease_between_reviews) | pl.col("due_for_review")
    )
    keep_reasons: list[tuple[str, pl.Expr]] = [
        (reasons.no_score, ~has_basis),
        (lp.review.not_due_reason, pl.col("_trigger") & ~decrease_applies),
        (reasons.at_floor, decrease_applies & (pl.col("_decreased") >= old)),
        *_increase_blockers(lp, as_of),
    ]
    keep_reason = pl.coalesce(
        [pl.when(cond.fill_null(False)).then(pl.lit(code)) for code, cond in keep_reasons]
    )
    stages.append([keep_reason.alias("_keep_reason")])
    action = (
        pl.when(has_basis & decrease_applies & (pl.col("_decreased") < old))
        .then(pl.lit(LimitAction.DECREASE.value))
        .when(pl.col("_keep_reason").is_null())
        .then(pl.lit(LimitAction.INCREASE.value))
        .otherwise(pl.lit(LimitAction.KEEP.value))
    )
    stages.append([action.alias("action")])
    is_inc = pl.col("action") == LimitAction.INCREASE.value
    is_dec = pl.col("action") == LimitAction.DECREASE.value
    capped = is_inc & (pl.col("_ceiling") < pl.col("_proposed")).fill_null(False)
    primary = (
        pl.when(is_dec)
        .then(_by_grade({g.code: g.decrease.reason for g in grades}, pl.String()))
        .when(is_inc)
        .then(pl.col("segment").replace_strict(increase_reason, return_dtype=pl.String))
        .otherwise(pl.col("_keep_reason"))
    )
    secondary = (
        pl.when(capped & (pl.col("_ceiling") == pl.col("_grade_cap")))
        .then(pl.lit(reasons.capped_grade))
        .when(capped)
        .then(pl.lit(reasons.capped_income))
        .otherwise(pl.lit(None, dtype=pl.String))
    )
    new_limit = (
        pl.when(is_dec)
        .then(pl.col("_decreased"))
        .when(is_inc)
        .then(pl.min_horizontal(pl.col("_proposed"), pl.col("_ceiling")))
        .otherwise(old)
    )
    stages.append(
        [
            new_limit.alias("new_limit_minor"),
            # The percentage applied, after the caps and the rounding down to the step.
            pl.when(is_inc)
            .then(_div_half_even((new_limit - old) * BP, old))
            .otherwise(None)
            .alias("increase_pct_bp"),
            primary.alias("_reason_primary"),
            secondary.alias("_reason_secondary"),
            _score_reasons(is_inc).alias("_score_reasons"),
            old.alias("old_limit_minor"),
            pl.lit(as_of, dtype=pl.Date).alias("as_of"),
            pl.lit(policy.version, dtype=pl.String).alias("policy_version"),
        ]
    )
    codes = _reason_list(
        pl.col("_reason_primary"),
        pl.col("_reason_secondary"),
        score_reasons=pl.col("_score_reasons"),
    )
    return _ReviewPlan(
        stages, [codes.alias("reason_codes"), *_reason_text_exprs(policy, texts_key, codes)]
    )


# --------------------------------------------------------------------------- initial limits


def assign_initial_limit(
    applicants: pa.Table | pa.RecordBatch | pl.DataFrame,
    policy: Policy,
    as_of: dt.date,
    *,
    reason_texts: ReasonTexts | None = None,
) -> pl.DataFrame:
    """Initial limits for new applicants (issue #5 item 5), vectorised like ``decide_limits``.

    Input: ``applicant_id, score, pd, annual_income_minor`` (income may be null or absent) and
    optional ``reason_codes, model_version``. The limit is the grade's initial range, placed
    by score within the grade, rounded down to the step and capped by the grade's income cap
    where income is known. Returns the columns of ``INITIAL_SCHEMA``.
    """
    lp = policy.limits
    step = lp.rounding.limit_step_minor
    ini = lp.initial
    basis = "score" if lp.grading.basis == "score" else "pd"
    frame = _as_frame(applicants)
    if "applicant_id" not in frame.columns or basis not in frame.columns:
        raise DecisionInputError(f"applicant table needs columns applicant_id and {basis}")
    optional = {"score", "pd", "annual_income_minor", "reason_codes", "model_version"}
    exprs: list[pl.Expr] = [pl.col("applicant_id").cast(pl.String)]
    for name in sorted(optional):
        dtype = _dtype_of(name)
        exprs.append(
            (
                pl.col(name).cast(dtype) if name in frame.columns else pl.lit(None, dtype=dtype)
            ).alias(name)
        )
    grades = lp.grades
    lazy = frame.select(exprs).lazy().with_columns(grade_expr(lp).alias("grade"))
    low = _by_grade({g.code: g.initial_limit.min_minor for g in grades})
    high = _by_grade({g.code: g.initial_limit.max_minor for g in grades})
    income_bp = _by_grade(
        {
            g.code: percent_to_bp(g.caps.max_pct_of_annual_income)
            for g in grades
            if g.caps.max_pct_of_annual_income is not None
        }
    )
    lazy = lazy.with_columns(
        _floor_to_step(low + (high - low) * _position_ppm(lp) // PPM, step).alias("_placed"),
        _floor_to_step(_pct_of(pl.col("annual_income_minor"), income_bp), step).alias("_cap"),
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
        _reason_list(primary, secondary.otherwise(None)).alias("reason_codes"),
        pl.lit(as_of, dtype=pl.Date).alias("as_of"),
        pl.lit(policy.version, dtype=pl.String).alias("policy_version"),
    )
    lazy = lazy.with_columns(_reason_text_exprs(policy, _texts_key(reason_texts)))
    return lazy.select(
        [pl.col(name).cast(dtype) for name, dtype in INITIAL_SCHEMA.items()]
    ).collect()


_ARROW_TYPES: dict[type[pl.DataType], Any] = {
    pl.String: pa.string(),
    pl.Date: pa.date32(),
    pl.Boolean: pa.bool_(),
    pl.Int64: pa.int64(),
    pl.Float64: pa.float64(),
}


def decision_arrow_schema() -> pa.Schema:
    """``DECISION_SCHEMA`` as an Arrow schema (what the engines stream; plain ``string``,
    not ``large_string``, so Spark's Arrow bridge takes it as it is)."""
    fields = []
    for name, dtype in DECISION_SCHEMA.items():
        if isinstance(dtype, pl.List):
            arrow_type = pa.list_(pa.string())
        else:
            arrow_type = _ARROW_TYPES[type(dtype)]
        fields.append(pa.field(name, arrow_type))
    schema: pa.Schema = pa.schema(fields)
    return schema
