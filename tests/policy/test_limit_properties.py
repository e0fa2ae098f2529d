"""Property tests (Hypothesis): whatever the account, the decision stays inside the policy."""

from __future__ import annotations

import datetime as dt

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from cardpilot.policy.limits import decide_limits

AS_OF = dt.date(2026, 12, 1)
STEP = 10_000  # 100 yuan in fen (default policy)
INCREASE_BP = {"excellent": (3000, 5000), "good": (2000, 3000), "fair": (1000, 2000)}
GRADE_CAP = {"excellent": 10_000_000, "good": 5_000_000, "fair": 2_000_000, "poor": 500_000}
INCOME_CAP_BP = {"excellent": 5000, "good": 4000, "fair": 3000, "poor": 2000}
FLOOR = {"excellent": 500_000, "good": 200_000, "fair": 50_000, "poor": 50_000}
SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def grade_table_trigger(row: dict) -> bool:
    """The bank's grade table, written out independently of the policy file."""
    consecutive = row["consecutive_overdue_months"]
    return {
        "excellent": consecutive >= 3,
        "good": consecutive >= 2,
        "fair": consecutive >= 1,
        "poor": row["months_overdue_latest"] >= 1 or row["overdue_count_3m"] >= 1,
    }[row["grade"]]


def months_ago(n: int | None) -> dt.date | None:
    if n is None:
        return None
    index = AS_OF.year * 12 + AS_OF.month - 1 - n
    return dt.date(index // 12, index % 12 + 1, 1)


@st.composite
def accounts(draw: st.DrawFn) -> dict:
    consecutive = draw(st.integers(0, 6))
    overdue_6m = draw(st.integers(consecutive, 6))
    return {
        "account_id": "x",
        "score": draw(st.one_of(st.none(), st.integers(250, 950))),
        "pd": draw(st.floats(0, 1)),
        "reason_codes": draw(st.lists(st.sampled_from(["RC_A", "RC_B", "RC_C"]), max_size=3)),
        "model_version": "m",
        "credit_limit_minor": draw(st.integers(0, 30_000_000)),
        "utilisation_latest": draw(st.floats(0, 1.5)),
        "utilisation_avg_6m": draw(st.floats(0, 1.5)),
        "payment_ratio_avg_6m": draw(st.floats(0, 2)),
        "revolving_months_6m": draw(st.integers(0, 6)),
        "months_overdue_latest": consecutive,
        "overdue_count_3m": min(overdue_6m, draw(st.integers(min(consecutive, 3), 3))),
        "overdue_count_6m": overdue_6m,
        "consecutive_overdue_months": consecutive,
        "months_since_last_overdue": (
            0 if consecutive else draw(st.one_of(st.none(), st.integers(1, 24)))
        ),
        "spend_avg_6m_minor": draw(st.integers(0, 10_000_000)),
        "cash_advance_share": draw(st.floats(0, 1)),
        "months_on_book": draw(st.one_of(st.none(), st.integers(0, 200))),
        "annual_income_minor": draw(st.one_of(st.none(), st.integers(0, 200_000_000))),
        "last_review_on": months_ago(draw(st.one_of(st.none(), st.integers(0, 30)))),
        "last_limit_change_on": months_ago(draw(st.one_of(st.none(), st.integers(0, 30)))),
    }


portfolios = st.lists(accounts(), min_size=1, max_size=25)


@SETTINGS
@given(rows=portfolios)
def test_new_limit_always_inside_policy_bounds(policy, make_frame, rows):
    out = decide_limits(make_frame(rows), policy, AS_OF)
    assert out["new_limit_minor"].dtype == pl.Int64
    for row, d in zip(rows, out.iter_rows(named=True), strict=True):
        old, new, grade = d["old_limit_minor"], d["new_limit_minor"], d["grade"]
        assert old == row["credit_limit_minor"]
        assert isinstance(new, int)
        assert 1 <= len(d["reason_codes"]) <= 4
        assert len(d["reason_texts_zh"]) == len(d["reason_texts_en"]) == len(d["reason_codes"])
        if d["action"] == "keep":
            assert new == old
            assert d["increase_pct_bp"] is None
        elif d["action"] == "increase":
            low, high = INCREASE_BP[grade]
            pct = d["increase_pct_bp"]
            assert low <= pct <= high
            assert pct % 100 == 0  # whole percent
            assert new > old
            assert new % STEP == 0
            assert new <= old * (10_000 + high) // 10_000
            assert new >= old * (10_000 + low) // 10_000 // STEP * STEP
            assert new <= GRADE_CAP[grade]
            if row["annual_income_minor"] is not None:
                assert new <= row["annual_income_minor"] * INCOME_CAP_BP[grade] // 10_000
            assert row["consecutive_overdue_months"] == 0
        else:
            assert d["action"] == "decrease"
            assert grade_table_trigger(d | row)
            assert FLOOR[grade] <= new < old
            assert new % STEP == 0


@SETTINGS
@given(rows=portfolios)
def test_decrease_exactly_when_the_grade_trigger_is_met(policy, make_frame, rows):
    out = decide_limits(make_frame(rows), policy, AS_OF)
    for row, d in zip(rows, out.iter_rows(named=True), strict=True):
        if d["grade"] is None:
            assert d["action"] == "keep"
            continue
        if not grade_table_trigger(d | row):
            assert d["action"] != "decrease"
        elif d["action"] != "decrease":
            # Trigger met, but the limit is already at (or below) where a cut would take it.
            assert d["action"] == "keep"
            assert d["reason_codes"][0] == "KEEP_AT_LIMIT_FLOOR"


@SETTINGS
@given(rows=portfolios, seed=st.integers(0, 2**32 - 1))
def test_protected_attributes_never_change_a_decision(policy, make_frame, rows, seed):
    frame = make_frame(rows)
    plain = decide_limits(frame, policy, AS_OF)
    n = frame.height
    with_protected = frame.with_columns(
        pl.Series("sex", ["F", "M"] * n)[:n],
        pl.Series("marital_status", ["married", "single", "other"] * n)[:n],
    )
    shuffled = with_protected.with_columns(
        pl.col("sex").shuffle(seed), pl.col("marital_status").shuffle(seed + 1)
    )
    flipped = with_protected.with_columns(
        pl.when(pl.col("sex") == "F").then(pl.lit("M")).otherwise(pl.lit("F")).alias("sex")
    )
    for variant in (with_protected, shuffled, flipped):
        assert_frame_equal(decide_limits(variant, policy, AS_OF), plain)


@SETTINGS
@given(rows=portfolios, cut=st.integers(0, 25))
def test_decisions_do_not_depend_on_how_the_portfolio_is_chunked(policy, make_frame, rows, cut):
    frame = make_frame(rows)
    whole = decide_limits(frame, policy, AS_OF)
    parts = [frame[:cut], frame[cut:]]
    chunked = pl.concat([decide_limits(p, policy, AS_OF) for p in parts if p.height])
    assert_frame_equal(chunked, whole)
