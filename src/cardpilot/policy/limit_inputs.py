"""The columns a limit decision reads and writes: the canonical types of the feature table's
columns, the decision and initial-limit tables, and narrowing an input to what the policy reads.

Narrowing first is what keeps protected attributes out of a decision (PIPL art. 24, no
unreasonable differential treatment): only the columns the policy names are selected.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl
import pyarrow as pa

from cardpilot.policy.condition_syntax import condition_features
from cardpilot.policy.row_exprs import cast_value
from cardpilot.policy.schema import FEATURE_COLUMNS, LimitPolicy
from cardpilot.policy.segments import segment_features

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


class DecisionInputError(ValueError):
    """The feature table cannot be decided on: says which column and what to do."""


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


def dtype_of(name: str) -> pl.DataType:
    if name in _BASE_DTYPES:
        return _BASE_DTYPES[name]
    return _KIND_DTYPE[FEATURE_COLUMNS[name]]


def as_frame(table: pa.Table | pa.RecordBatch | pl.DataFrame) -> pl.DataFrame:
    if isinstance(table, pl.DataFrame):
        return table
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return frame


def narrow_to_policy(
    table: pa.Table | pa.RecordBatch | pl.DataFrame,
    needed: set[str],
    optional: set[str],
) -> pl.DataFrame:
    """Only the columns the policy reads, in canonical types; optional ones null if absent.

    Selecting first is what keeps protected attributes (and anything else) out of a decision.
    """
    frame = as_frame(table)
    missing = sorted(needed - set(frame.columns))
    if missing:
        raise DecisionInputError(
            f"feature table lacks column(s) {missing} that the policy reads; build it with "
            "cardpilot.scoring.features.behaviour_features and score it first"
        )
    exprs = []
    for name in sorted(needed | optional):
        dtype = dtype_of(name)
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


def narrow_row(features: Mapping[str, Any], needed: set[str], optional: set[str]) -> dict[str, Any]:
    """``narrow_to_policy`` for one row: only the columns the policy reads, as their canonical
    types hold them; optional ones None if absent."""
    missing = sorted(needed - set(features))
    if missing:
        raise DecisionInputError(
            f"feature row lacks column(s) {missing} that the policy reads; build it with "
            "cardpilot.scoring.features.behaviour_features and score it first"
        )
    out = {
        name: cast_value(features.get(name), dtype_of(name)) for name in sorted(needed | optional)
    }
    for key in ("account_id", "credit_limit_minor"):
        if key in out and out[key] is None:
            raise DecisionInputError(f"column {key} has 1 null value(s); every row needs one")
    return out


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
