"""The bank's grade table (issue #5) and the guards, caps and segments around it, account by
account, on the shipped default policy."""

from __future__ import annotations

import datetime as dt

import pytest

from cardpilot.policy.loading import policy_from_data

EXCELLENT_SCORES = [720, 810, 900]
GOOD_SCORES = [650, 700, 719]
FAIR_SCORES = [580, 620, 649]
POOR_SCORES = [300, 450, 579]


@pytest.mark.parametrize(
    ("score", "grade"),
    [
        (901, "excellent"),
        (900, "excellent"),
        (720, "excellent"),
        (719, "good"),
        (650, "good"),
        (649, "fair"),
        (580, "fair"),
        (579, "poor"),
        (300, "poor"),
        (12, "poor"),
    ],
)
def test_grade_follows_the_policy_score_cut_offs(decide, score, grade):
    assert decide(score=score)["grade"] == grade


@pytest.mark.parametrize("score", EXCELLENT_SCORES)
def test_excellent_grade_never_decreases_before_three_overdue_months(decide, score):
    for months in (0, 1, 2):
        d = decide(score=score, consecutive_overdue_months=months, months_overdue_latest=months)
        assert d["action"] != "decrease", months
        assert d["new_limit_minor"] >= d["old_limit_minor"]
    d = decide(score=score, consecutive_overdue_months=3, months_overdue_latest=3)
    assert d["action"] == "decrease"
    assert d["reason_codes"][0] == "DECREASE_CONSECUTIVE_OVERDUE"
    assert d["new_limit_minor"] == 1_400_000  # 20,000 yuan cut by 30 %


@pytest.mark.parametrize("score", GOOD_SCORES)
def test_good_grade_decreases_after_two_consecutive_overdue_months(decide, score):
    assert decide(score=score, consecutive_overdue_months=1)["action"] != "decrease"
    d = decide(score=score, consecutive_overdue_months=2, months_overdue_latest=2)
    assert d["action"] == "decrease"
    assert d["new_limit_minor"] == 1_200_000  # cut by 40 %


@pytest.mark.parametrize("score", FAIR_SCORES)
def test_fair_grade_decreases_after_one_overdue_month(decide, score):
    assert decide(score=score)["action"] != "decrease"
    d = decide(score=score, consecutive_overdue_months=1, months_overdue_latest=1)
    assert d["action"] == "decrease"
    assert d["reason_codes"][0] == "DECREASE_OVERDUE"
    assert d["new_limit_minor"] == 1_000_000  # cut by 50 %


@pytest.mark.parametrize("score", POOR_SCORES)
def test_poor_grade_decreases_on_any_overdue_payment(decide, score):
    # Overdue once in the last three cycles, paid up now.
    d = decide(
        score=score,
        credit_limit_minor=400_000,
        overdue_count_3m=1,
        overdue_count_6m=1,
        months_since_last_overdue=2,
    )
    assert d["action"] == "decrease"
    assert d["reason_codes"][0] == "DECREASE_ANY_OVERDUE"
    assert d["new_limit_minor"] == 200_000


@pytest.mark.parametrize("score", POOR_SCORES)
def test_poor_grade_never_increases(decide, score):
    d = decide(
        score=score, credit_limit_minor=100_000, utilisation_avg_6m=0.8, payment_ratio_avg_6m=1.0
    )
    assert d["action"] == "keep"
    assert d["reason_codes"][0] == "KEEP_GRADE_NO_INCREASE"
    assert d["new_limit_minor"] == 100_000
    assert d["increase_pct_bp"] is None


@pytest.mark.parametrize(
    ("score", "low_bp", "high_bp"),
    [(810, 3000, 5000), (700, 2000, 3000), (600, 1000, 2000)],
)
def test_increase_stays_inside_the_grade_range(decide, score, low_bp, high_bp):
    d = decide(score=score, credit_limit_minor=500_000)
    assert d["action"] == "increase"
    assert low_bp <= d["increase_pct_bp"] <= high_bp
    old = d["old_limit_minor"]
    assert (
        d["new_limit_minor"] == old * (10_000 + d["increase_pct_bp"]) // 10_000 // 10_000 * 10_000
    )


def test_increase_pct_rises_with_score_within_the_grade(decide):
    pcts = [decide(score=s)["increase_pct_bp"] for s in (720, 760, 810, 860, 900)]
    assert pcts == sorted(pcts)
    assert pcts[0] == 3000  # bottom of the band: bottom of the range
    assert pcts[-1] == 5000  # top of the band: top of the range
    assert decide(score=810)["increase_pct_bp"] == 4000  # middle: middle


def test_new_limit_is_rounded_down_to_the_hundred_yuan_step(decide):
    d = decide(score=720, credit_limit_minor=1_234_567)  # 12,345.67 yuan, +30 %
    assert d["new_limit_minor"] == 1_600_000  # 16,049.07 rounded down to 16,000


def test_increase_blocked_by_income_cap_is_keep_with_reason(decide):
    # 50 % of 50,000 yuan = 25,000 < 26,000 (the smallest increase in range, +30 %).
    d = decide(annual_income_minor=5_000_000)
    assert d["action"] == "keep"
    assert d["reason_codes"][0] == "KEEP_CAP_INCOME"
    assert d["new_limit_minor"] == d["old_limit_minor"]


def test_increase_partly_above_income_cap_is_capped_with_reason(decide):
    # Cap 27,000 yuan: above +30 % (26,000) but below the +40 % proposal (28,000).
    d = decide(annual_income_minor=5_400_000)
    assert d["action"] == "increase"
    assert d["new_limit_minor"] == 2_700_000
    assert d["reason_codes"][:2] == ["LIMIT_INCREASE_GOOD_REPAYMENT", "INCREASE_CAPPED_INCOME"]


def test_unknown_income_applies_no_income_cap(decide):
    assert decide(annual_income_minor=None)["new_limit_minor"] == 2_800_000


def test_increase_blocked_by_grade_cap_is_keep_with_reason(decide):
    d = decide(credit_limit_minor=9_000_000)  # +30 % would pass the 100,000 yuan cap
    assert d["action"] == "keep"
    assert d["reason_codes"][0] == "KEEP_CAP_GRADE"


def test_no_increase_while_overdue(decide):
    d = decide(months_overdue_latest=1, consecutive_overdue_months=1, months_since_last_overdue=0)
    assert d["action"] == "keep"
    assert d["reason_codes"][0] == "KEEP_CURRENTLY_OVERDUE"


def test_no_increase_after_recent_overdue(decide):
    d = decide(months_since_last_overdue=3, overdue_count_6m=1)
    assert d["reason_codes"][0] == "KEEP_RECENT_OVERDUE"
    assert decide(months_since_last_overdue=7)["action"] == "increase"


def test_minimum_months_on_book_blocks_increase(decide):
    d = decide(months_on_book=4)
    assert d["action"] == "keep"
    assert d["reason_codes"][0] == "KEEP_MIN_MONTHS_ON_BOOK"
    # Unknown tenure is allowed by the default policy (documented in limits.yaml).
    assert decide(months_on_book=None)["action"] == "increase"


def test_cooling_period_after_a_limit_change_blocks_increase(decide):
    d = decide(last_limit_change_on=dt.date(2026, 8, 15))
    assert d["reason_codes"][0] == "KEEP_COOLING_PERIOD"
    assert decide(last_limit_change_on=dt.date(2026, 6, 1))["action"] == "increase"


def test_account_not_due_for_review_keeps_its_limit(decide):
    d = decide(last_review_on=dt.date(2026, 9, 30))
    assert not d["due_for_review"]
    assert d["action"] == "keep"
    assert d["reason_codes"][0] == "KEEP_NOT_DUE_FOR_REVIEW"
    assert decide(last_review_on=dt.date(2026, 6, 1))["due_for_review"]


def test_decrease_applies_between_reviews_by_default(decide):
    d = decide(
        last_review_on=dt.date(2026, 10, 1),
        score=600,
        consecutive_overdue_months=1,
        months_overdue_latest=1,
    )
    assert d["action"] == "decrease"


def test_decrease_waits_for_review_when_policy_says_so(decide, policy_data):
    limits, reasons = policy_data
    limits["review"]["decrease_between_reviews"] = False
    strict = policy_from_data(limits, reasons)
    d = decide(
        strict,
        last_review_on=dt.date(2026, 10, 1),
        score=600,
        consecutive_overdue_months=1,
        months_overdue_latest=1,
    )
    assert d["action"] == "keep"
    assert d["reason_codes"][0] == "KEEP_NOT_DUE_FOR_REVIEW"


def test_decrease_never_goes_below_the_grade_floor(decide):
    d = decide(score=600, credit_limit_minor=80_000, consecutive_overdue_months=1)
    assert d["action"] == "decrease"
    assert d["new_limit_minor"] == 50_000  # 50 % of 800 is 400, floor 500 yuan
    at_floor = decide(score=600, credit_limit_minor=50_000, consecutive_overdue_months=1)
    assert at_floor["action"] == "keep"
    assert at_floor["reason_codes"][0] == "KEEP_AT_LIMIT_FLOOR"


def test_large_spender_repaying_on_time_moves_towards_top_of_range(decide):
    standard = decide(score=760)
    large = decide(
        score=760, utilisation_avg_6m=0.7, utilisation_latest=0.7, payment_ratio_avg_6m=1.0
    )
    assert large["segment"] == "large_on_time"
    assert standard["segment"] == "standard"
    assert large["increase_pct_bp"] > standard["increase_pct_bp"]
    assert large["reason_codes"][0] == "LIMIT_INCREASE_HIGH_USE_ON_TIME"


def test_revolver_moves_towards_bottom_of_range(decide):
    revolver = decide(score=810, revolving_months_6m=5, payment_ratio_avg_6m=0.2)
    assert revolver["segment"] == "revolver"
    assert revolver["increase_pct_bp"] < decide(score=810)["increase_pct_bp"]


def test_cautious_low_spender_keeps_a_stable_limit(decide):
    d = decide(utilisation_avg_6m=0.05, utilisation_latest=0.05, payment_ratio_avg_6m=1.0)
    assert d["segment"] == "cautious_low"
    assert d["action"] == "keep"
    assert d["reason_codes"][0] == "KEEP_SEGMENT_STABLE"


def test_dormant_and_under_strain_accounts_keep_their_limit(decide):
    dormant = decide(utilisation_avg_6m=0.0, spend_avg_6m_minor=0)
    assert (dormant["segment"], dormant["action"]) == ("dormant", "keep")
    strain = decide(utilisation_latest=0.95, payment_ratio_avg_6m=0.05)
    assert (strain["segment"], strain["action"]) == ("under_strain", "keep")
    assert strain["reason_codes"][0] == "KEEP_SEGMENT_UNDER_STRAIN"


def test_first_matching_segment_wins(decide):
    # Both dormant and cautious_low match; dormant is listed first.
    d = decide(utilisation_avg_6m=0.0, spend_avg_6m_minor=0, payment_ratio_avg_6m=1.0)
    assert d["segment"] == "dormant"


def test_account_without_score_keeps_its_limit_with_reason(decide):
    d = decide(score=None, pd=None, consecutive_overdue_months=5)
    assert d["grade"] is None
    assert d["action"] == "keep"
    assert d["reason_codes"][0] == "KEEP_NO_SCORE"


def test_decision_explains_itself_in_both_locales_with_at_most_four_reasons(decide):
    d = decide(
        annual_income_minor=5_400_000,
        reason_codes=["RC_A", "RC_B", "RC_C", "RC_D"],
        positive_codes=["PF_A", "PF_B", "PF_C"],
    )
    assert d["reason_codes"] == [
        "LIMIT_INCREASE_GOOD_REPAYMENT",
        "INCREASE_CAPPED_INCOME",
        "PF_A",
        "PF_B",
    ]
    assert d["reason_texts_zh"][0] == "您的用卡和还款记录良好，信用额度已提升。"
    assert d["reason_texts_en"][1].startswith("The increase is limited")
    assert d["reason_texts_en"][2] == "PF_A"  # no text given for the score's code: the code


def test_an_increase_states_positive_factors_and_a_decrease_adverse_reasons(decide):
    score_reasons = {"reason_codes": ["RC_A", "RC_B"], "positive_codes": ["PF_A", "PF_B"]}
    increase = decide(**score_reasons)
    assert increase["action"] == "increase"
    assert increase["reason_codes"][1:] == ["PF_A", "PF_B"]
    decrease = decide(
        score=560, consecutive_overdue_months=3, months_overdue_latest=3, **score_reasons
    )
    assert decrease["action"] == "decrease"
    assert decrease["reason_codes"][1:] == ["RC_A", "RC_B"]


def test_decision_records_policy_version_model_version_and_as_of(decide, policy, as_of):
    d = decide()
    assert d["policy_version"] == policy.version
    assert d["policy_version"].startswith("2026.11.0+")
    assert d["model_version"] == "scorecard-2026.11"
    assert d["as_of"] == as_of
    assert (d["score"], d["pd"]) == (810, 0.01)


def test_grading_on_pd_uses_the_pd_bands(decide, policy_data):
    limits, reasons = policy_data
    limits["grading"]["basis"] = "pd"
    bands = [(0.0, 0.02), (0.02, 0.05), (0.05, 0.12), (0.12, 1.0)]
    for grade, (low, high) in zip(limits["grades"], bands, strict=True):
        grade["pd"] = {"min": low, "max": high}
    by_pd = policy_from_data(limits, reasons)
    assert decide(by_pd, score=None, pd=0.01)["grade"] == "excellent"
    assert decide(by_pd, score=None, pd=0.02)["grade"] == "good"
    assert decide(by_pd, score=300, pd=0.5)["grade"] == "poor"
    # Lower PD inside a band means a higher increase.
    assert decide(by_pd, pd=0.001)["increase_pct_bp"] > decide(by_pd, pd=0.019)["increase_pct_bp"]


def test_custom_guard_from_the_policy_blocks_increase(decide, policy_data):
    limits, reasons = policy_data
    limits["guards"]["custom"] = [
        {
            "reason": "KEEP_RECENT_OVERDUE",
            "when": {"feature": "bill_growth", "op": ">", "value": 0.5},
        }
    ]
    guarded = policy_from_data(limits, reasons)
    assert decide(guarded, bill_growth=0.6)["reason_codes"][0] == "KEEP_RECENT_OVERDUE"
    assert decide(guarded, bill_growth=0.1)["action"] == "increase"
