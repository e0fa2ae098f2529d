"""Initial limits for new applicants (issue #5 item 5): grade range, placed by score, capped
by income."""

from __future__ import annotations

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cardpilot.policy.limits import assign_initial_limit
from cardpilot.policy.loading import policy_from_data

RANGES = {
    "excellent": (1_000_000, 5_000_000),
    "good": (500_000, 2_000_000),
    "fair": (200_000, 1_000_000),
    "poor": (50_000, 500_000),
}


def applicants(*rows: dict) -> pl.DataFrame:
    base = {
        "applicant_id": "P",
        "score": 700,
        "pd": 0.03,
        "annual_income_minor": None,
        "model_version": "m",
        "reason_codes": [],
    }
    return pl.DataFrame(
        [base | r for r in rows],
        schema_overrides={
            "annual_income_minor": pl.Int64,
            "reason_codes": pl.List(pl.String),
            "score": pl.Int64,
        },
    )


def test_initial_limit_is_placed_by_score_within_the_grade_range(policy, as_of):
    out = assign_initial_limit(
        applicants({"score": 720}, {"score": 810}, {"score": 900}), policy, as_of
    )
    assert out["grade"].to_list() == ["excellent"] * 3
    assert out["initial_limit_minor"].to_list() == [1_000_000, 3_000_000, 5_000_000]
    assert out["action"].to_list() == ["offer"] * 3
    assert out["reason_codes"][0].to_list() == ["INITIAL_LIMIT_BY_GRADE"]


def test_initial_limit_is_capped_by_income(policy, as_of):
    # Top of the good band places 20,000 yuan; 40 % of 30,000 yuan income caps it at 12,000.
    out = assign_initial_limit(
        applicants({"score": 719, "annual_income_minor": 3_000_000}), policy, as_of
    ).row(0, named=True)
    assert out["initial_limit_minor"] == 1_200_000
    assert out["reason_codes"] == ["INITIAL_LIMIT_BY_GRADE", "INITIAL_CAPPED_INCOME"]
    assert out["reason_texts_zh"][1] == "初始额度受与您收入相匹配的上限限制。"


def test_income_too_low_for_the_grade_minimum_declines(policy, as_of):
    out = assign_initial_limit(
        applicants({"score": 719, "annual_income_minor": 1_000_000}), policy, as_of
    ).row(0, named=True)
    assert out["action"] == "decline"
    assert out["initial_limit_minor"] is None
    assert out["reason_codes"][0] == "INITIAL_DECLINE_INCOME"


def test_income_too_low_can_offer_the_grade_minimum_when_policy_says_so(policy_data, as_of):
    limits, reasons = policy_data
    limits["initial"]["below_grade_min"] = "offer_grade_min"
    lenient = policy_from_data(limits, reasons)
    out = assign_initial_limit(
        applicants({"score": 719, "annual_income_minor": 1_000_000}), lenient, as_of
    ).row(0, named=True)
    assert (out["action"], out["initial_limit_minor"]) == ("offer", 500_000)


def test_applicant_without_score_is_referred_to_a_person(policy, as_of):
    out = assign_initial_limit(applicants({"score": None}), policy, as_of).row(0, named=True)
    assert out["action"] == "refer"
    assert out["initial_limit_minor"] is None
    assert out["reason_codes"] == ["INITIAL_NO_SCORE"]


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(
        st.fixed_dictionaries(
            {
                "score": st.integers(200, 1000),
                "annual_income_minor": st.one_of(st.none(), st.integers(0, 100_000_000)),
            }
        ),
        min_size=1,
        max_size=20,
    )
)
def test_offered_initial_limit_is_inside_the_grade_range_and_on_the_step(policy, as_of, rows):
    out = assign_initial_limit(applicants(*rows), policy, as_of)
    assert out.height == len(rows)
    for d in out.iter_rows(named=True):
        if d["action"] != "offer":
            assert d["action"] == "decline"
            continue
        low, high = RANGES[d["grade"]]
        assert low <= d["initial_limit_minor"] <= high
        assert d["initial_limit_minor"] % 10_000 == 0
