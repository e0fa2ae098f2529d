"""The fairness report read from a reviewed store (SQLite and PostgreSQL): every figure of the
hand-built store in conftest.py, worked out by hand."""

from __future__ import annotations

from typing import Any

import pytest
from fairness_store import CYCLE, EARLIER_CYCLE, LABEL, build_reviewed_store

from cardpilot.fairness.cycle import FairnessError, cycle_fairness_report
from cardpilot.fairness.report import ReportOptions
from cardpilot.store.db import open_store

OPTIONS = ReportOptions(min_group_accounts=10, locale="en")


def _report(url: str, cycle: str | None = None, options: ReportOptions = OPTIONS) -> dict[str, Any]:
    engine = open_store(url)
    try:
        return cycle_fairness_report(engine, cycle, label=LABEL, options=options)
    finally:
        engine.dispose()


def _groups(report: dict[str, Any], attribute: str) -> dict[str, dict[str, Any]]:
    found = next(a for a in report["attributes"] if a["attribute"] == attribute)
    return {g["group"]: g for g in found["groups"]}


def test_shares_and_impact_ratios_by_sex_match_the_hand_count(reviewed_store: str) -> None:
    report = _report(reviewed_store)
    assert report["cycle_id"] == CYCLE
    assert report["as_of"] == "2026-05-01"
    assert report["accounts"] == 41
    sex = _groups(report, "sex")
    female, male, _unknown = sex["female"], sex["male"], sex["unknown"]
    assert (female["accounts"], female["increases"], female["decreases"]) == (20, 6, 2)
    assert female["increase_share"] == 0.3
    assert female["decrease_share"] == 0.1
    assert male["increase_share"] == 0.2
    assert male["decrease_share"] == 0.2
    # increases: 0.2 / 0.3; decreases, favourable = not decreased: 0.8 / 0.9
    assert male["air_increase"] == pytest.approx(2 / 3, abs=1e-4)
    assert male["air_decrease"] == pytest.approx(0.8 / 0.9, abs=1e-4)
    assert female["air_increase"] == 1.0
    assert female["air_decrease"] == 1.0
    assert male["flagged"]
    assert male["flags"] == ["air_increase"]
    assert not female["flagged"]


def test_a_small_group_is_reported_with_its_count_but_neither_flagged_nor_the_reference(
    reviewed_store: str,
) -> None:
    report = _report(reviewed_store)
    unknown = _groups(report, "sex")["unknown"]
    assert unknown["accounts"] == 1
    assert unknown["small"]
    assert unknown["increase_share"] == 1.0
    assert unknown["air_increase"] == pytest.approx(1 / 0.3, abs=1e-4)  # above the reference
    assert not unknown["flagged"]
    sex = next(a for a in report["attributes"] if a["attribute"] == "sex")
    assert sex["reference_increase"] == "female"  # not the 1-account group with 100 %
    assert sex["reference_decrease"] == "female"


def test_marital_groups_flag_both_measures(reviewed_store: str) -> None:
    marital = _groups(_report(reviewed_store), "marital_status")
    married, single = marital["married"], marital["single"]
    assert (married["accounts"], married["increases"], married["decreases"]) == (16, 10, 6)
    assert (single["accounts"], single["increases"], single["decreases"]) == (24, 0, 0)
    assert single["air_increase"] == 0.0
    assert single["flags"] == ["air_increase"]
    assert married["air_decrease"] == pytest.approx(10 / 16, abs=1e-4)
    assert married["flags"] == ["air_decrease"]


def test_age_bands_come_from_birth_year_at_the_decision_date(reviewed_store: str) -> None:
    age = _groups(_report(reviewed_store), "age_band")
    assert list(age) == ["25-34", "35-44", "45-54", "65+", "unknown"]
    assert [age[g]["accounts"] for g in age] == [12, 8, 8, 12, 1]
    # The two large bands had no increase: no reference rate, so no increase ratio at all.
    assert all(g["air_increase"] is None for g in age.values())
    assert age["35-44"]["small"]
    assert not age["35-44"]["flagged"]


def test_auc_and_default_rate_by_grade_per_group(reviewed_store: str) -> None:
    report = _report(reviewed_store)
    assert report["grades"] == ["A", "B", "C"]
    sex = _groups(report, "sex")
    # female: defaulters at 500, 500, 600, 600 against 6 at 700 and 10 at 600: 54 of 64 pairs
    assert sex["female"]["auc"] == pytest.approx(54 / 64)
    assert sex["male"]["auc"] == pytest.approx(56 / 64)
    assert sex["female"]["auc_accounts"] == 20
    by_grade = {r["grade"]: r for r in sex["female"]["default_rate_by_grade"]}
    assert by_grade["A"]["default_rate"] == 0.0
    assert by_grade["B"]["default_rate"] == pytest.approx(2 / 12, abs=1e-6)
    assert (by_grade["C"]["labelled"], by_grade["C"]["defaults"]) == (2, 2)
    unknown = sex["unknown"]
    assert unknown["auc"] is None
    assert unknown["labelled"] == 0
    assert "score and an outcome label" in unknown["auc_reason"]


def test_wilson_intervals_surround_each_share(reviewed_store: str) -> None:
    female = _groups(_report(reviewed_store), "sex")["female"]
    low, high = female["increase_share_ci"]
    assert low < 0.3 < high
    assert female["increase_share_ci"] == pytest.approx([0.1455, 0.5190], abs=1e-4)


def test_the_latest_cycle_is_the_default_and_an_earlier_one_can_be_chosen(
    reviewed_store: str,
) -> None:
    earlier = _report(reviewed_store, EARLIER_CYCLE)
    assert earlier["cycle_id"] == EARLIER_CYCLE
    assert earlier["accounts"] == 3
    assert earlier["as_of"] == "2025-11-01"
    assert _report(reviewed_store)["policy_versions"] == ["test-policy-1"]


def test_an_unknown_cycle_names_the_cycles_reviewed(reviewed_store: str) -> None:
    with pytest.raises(FairnessError, match="2026-H1, 2025-H2"):
        _report(reviewed_store, "2030-H1")


def test_a_store_without_reviews_says_to_run_one(store_url: str) -> None:
    open_store(store_url).dispose()
    with pytest.raises(FairnessError, match="cardpilot review"):
        _report(store_url)


def test_without_outcome_labels_auc_is_null_with_the_reason(store_url: str) -> None:
    build_reviewed_store(store_url, labels=False)
    report = _report(store_url)
    for attribute in report["attributes"]:
        for group in attribute["groups"]:
            assert group["auc"] is None
            assert group["default_rate"] is None
            assert "no outcome label 'default_next_month'" in group["auc_reason"]
    assert _groups(report, "sex")["male"]["air_increase"] == pytest.approx(2 / 3, abs=1e-4)
