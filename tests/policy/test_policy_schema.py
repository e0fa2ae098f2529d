"""Policy files: validation errors name the file and field; money becomes fen; versions hash."""

from __future__ import annotations

import shutil
from decimal import Decimal

import pytest
import yaml

from cardpilot.policy.loading import (
    PolicyError,
    default_policy_path,
    load_policy,
    policy_from_data,
)


def error_of(limits, reasons) -> str:
    with pytest.raises(PolicyError) as info:
        policy_from_data(limits, reasons)
    return str(info.value)


def test_shipped_default_policy_is_valid_and_encodes_the_grade_table(policy):
    grades = {g.code: g for g in policy.limits.grades}
    assert list(grades) == ["excellent", "good", "fair", "poor"]
    ranges = {
        code: (g.initial_limit.min_minor, g.initial_limit.max_minor) for code, g in grades.items()
    }
    assert ranges == {
        "excellent": (1_000_000, 5_000_000),
        "good": (500_000, 2_000_000),
        "fair": (200_000, 1_000_000),
        "poor": (50_000, 500_000),
    }
    increases = {
        code: (g.increase_pct.min, g.increase_pct.max) if g.increase_pct else None
        for code, g in grades.items()
    }
    assert increases == {"excellent": (30, 50), "good": (20, 30), "fair": (10, 20), "poor": None}
    assert [g.label.zh_cn for g in grades.values()] == ["优秀", "良好", "中等", "较差"]
    assert policy.limits.review.cycle_months in (6, 12)


def test_money_in_yuan_is_read_as_integer_fen(policy_data):
    limits, reasons = policy_data
    limits["grades"][0]["initial_limit"]["min_yuan"] = "10,000.00"
    limits["rounding"]["limit_step_yuan"] = 0.5
    policy = policy_from_data(limits, reasons)
    assert policy.limits.grades[0].initial_limit.min_minor == 1_000_000
    assert policy.limits.rounding.limit_step_minor == 50
    assert isinstance(policy.limits.rounding.limit_step_minor, int)


def test_bad_money_names_the_field(policy_data):
    limits, reasons = policy_data
    limits["grades"][2]["decrease"]["floor_yuan"] = "five hundred"
    assert "grades[2].decrease.floor_yuan" in error_of(limits, reasons)


def test_unordered_range_names_the_field(policy_data):
    limits, reasons = policy_data
    limits["grades"][1]["initial_limit"] = {"min_yuan": 30000, "max_yuan": 20000}
    message = error_of(limits, reasons)
    assert "grades[1].initial_limit" in message
    assert "min_yuan must not exceed max_yuan" in message


def test_percentage_above_100_names_the_field(policy_data):
    limits, reasons = policy_data
    limits["grades"][0]["increase_pct"]["max"] = 150
    assert "grades[0].increase_pct.max" in error_of(limits, reasons)


def test_negative_percentage_names_the_field(policy_data):
    limits, reasons = policy_data
    limits["grades"][3]["decrease"]["cut_pct"] = -5
    assert "grades[3].decrease.cut_pct" in error_of(limits, reasons)


def test_gap_between_grades_names_the_grade(policy_data):
    limits, reasons = policy_data
    limits["grades"][1]["score"]["max"] = 700  # excellent starts at 720: 701-719 uncovered
    message = error_of(limits, reasons)
    assert "grades[1].score.max" in message
    assert "contiguous" in message


def test_grades_must_cover_the_whole_scale(policy_data):
    limits, reasons = policy_data
    limits["grades"][3]["score"]["min"] = 350
    assert "grades[3].score.min" in error_of(limits, reasons)


def test_amount_off_the_rounding_step_names_the_field(policy_data):
    limits, reasons = policy_data
    limits["grades"][0]["caps"]["max_limit_yuan"] = 100050
    message = error_of(limits, reasons)
    assert "grades[0] (excellent).caps.max_limit_yuan" in message
    assert "multiple" in message


def test_misspelt_key_is_an_error_not_ignored(policy_data):
    limits, reasons = policy_data
    limits["guards"]["cooling_month"] = 3
    assert "guards.cooling_month" in error_of(limits, reasons)


def test_review_cycle_must_be_6_or_12_months(policy_data):
    limits, reasons = policy_data
    limits["review"]["cycle_months"] = 9
    assert "review.cycle_months" in error_of(limits, reasons)


@pytest.mark.parametrize("attribute", ["sex", "marital_status"])
def test_condition_on_a_protected_attribute_is_rejected(policy_data, attribute):
    limits, reasons = policy_data
    limits["segments"][0]["when"] = {"feature": attribute, "op": "==", "value": "F"}
    message = error_of(limits, reasons)
    assert "segments[0].when.feature" in message
    assert "protected attribute" in message


def test_unknown_feature_in_a_nested_condition_names_the_place(policy_data):
    limits, reasons = policy_data
    limits["segments"][2]["when"]["all"][1]["feature"] = "payment_ratio"
    message = error_of(limits, reasons)
    assert "segments[2].when.all[1].feature" in message
    assert "unknown feature 'payment_ratio'" in message


def test_money_feature_threshold_must_be_given_in_yuan(policy_data):
    limits, reasons = policy_data
    limits["segments"][1]["when"]["all"][1] = {
        "feature": "spend_avg_6m_minor",
        "op": "<=",
        "value": 5000,
    }
    assert "value_yuan" in error_of(limits, reasons)


def test_only_the_last_segment_may_lack_a_condition(policy_data):
    limits, reasons = policy_data
    del limits["segments"][1]["when"]
    assert "segments[1] (dormant).when" in error_of(limits, reasons)


def test_reason_code_without_text_names_both_files(policy_data):
    limits, reasons = policy_data
    del reasons["reasons"]["KEEP_CAP_INCOME"]
    message = error_of(limits, reasons)
    assert "limits.yaml: decision_reasons.cap_income" in message
    assert "reasons.yaml" in message


def test_reason_text_needs_both_locales(policy_data):
    limits, reasons = policy_data
    del reasons["reasons"]["KEEP_NO_SCORE"]["en"]
    assert "reasons.KEEP_NO_SCORE.en" in error_of(limits, reasons)


def test_version_is_declared_version_plus_content_hash(tmp_path, policy):
    folder = tmp_path / "p"
    shutil.copytree(default_policy_path(), folder)
    limits_file = folder / "limits.yaml"
    # A comment does not change the rules, so it does not change the version.
    limits_file.write_text(limits_file.read_text(encoding="utf-8") + "\n# note\n", "utf-8")
    assert load_policy(folder).version == policy.version
    data = yaml.safe_load(limits_file.read_text(encoding="utf-8"))
    data["grades"][0]["increase_pct"]["max"] = 45
    limits_file.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    changed = load_policy(folder)
    assert changed.version.split("+")[0] == policy.version.split("+")[0]
    assert changed.version != policy.version
    assert changed.limits.grades[0].increase_pct.max == Decimal(45)


def test_missing_policy_file_says_what_a_policy_folder_holds(tmp_path):
    with pytest.raises(PolicyError, match=r"limits\.yaml and reasons\.yaml"):
        load_policy(tmp_path)
