"""The arithmetic of the fairness report on hand-made inputs: Wilson intervals, adverse impact
ratios, AUC within a group, age bands and the groups of free-text attributes."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from cardpilot.fairness.groups import age_band, with_groups
from cardpilot.fairness.measures import group_auc, impact_ratios, wilson_interval
from cardpilot.fairness.report import (
    DECISION_COLUMNS,
    CycleInfo,
    ReportOptions,
    fairness_report,
)


def test_wilson_interval_matches_the_textbook_figures() -> None:
    # 0 of 10 gives [0, 0.2775]; 10 of 10 mirrors it; 50 of 100 is symmetric about 0.5.
    low, high = wilson_interval(0, 10)  # type: ignore[misc]
    assert low == 0.0
    assert high == pytest.approx(0.27753, abs=1e-5)
    low, high = wilson_interval(10, 10)  # type: ignore[misc]
    assert low == pytest.approx(0.72247, abs=1e-5)
    assert high == 1.0
    low, high = wilson_interval(50, 100)  # type: ignore[misc]
    assert (low, high) == pytest.approx((0.40383, 0.59617), abs=1e-5)
    assert wilson_interval(0, 0) is None


def test_a_wider_confidence_gives_a_wider_interval() -> None:
    narrow = wilson_interval(30, 100, 0.90)
    wide = wilson_interval(30, 100, 0.99)
    assert narrow is not None
    assert wide is not None
    assert wide[0] < narrow[0] < 0.3 < narrow[1] < wide[1]


def test_impact_ratios_divide_by_the_most_favoured_eligible_group() -> None:
    reference, ratios = impact_ratios({"a": 0.5, "b": 0.3, "tiny": 0.9}, eligible=["a", "b"])
    assert reference == "a"
    assert ratios == pytest.approx({"a": 1.0, "b": 0.6, "tiny": 1.8})


def test_impact_ratio_ties_pick_the_first_name_and_zero_rates_give_none() -> None:
    assert impact_ratios({"b": 0.4, "a": 0.4}, ["a", "b"])[0] == "a"
    reference, ratios = impact_ratios({"a": 0.0, "b": 0.0}, ["a", "b"])
    assert reference == "a"
    assert ratios == {"a": None, "b": None}
    assert impact_ratios({"a": None}, ["a"]) == (None, {"a": None})


def test_group_auc_is_measured_where_both_outcomes_occur() -> None:
    value, n, reason = group_auc([0, 0, 1, 1], [700, 650, 600, 550])
    assert (value, n, reason) == (1.0, 4, None)
    value, n, reason = group_auc([0, 1, 0, 1], [700, 650, 600, 550])
    assert value == pytest.approx(0.75)
    assert reason is None
    assert group_auc([0, 0], [700, 600])[2] == "no account of the group defaulted"
    assert "every labelled account" in str(group_auc([1, 1], [700, 600])[2])
    nan = float("nan")
    assert group_auc([nan, 1.0, 0.0], [700, nan, nan])[1:] == (
        0,
        "no account of the group has both a score and an outcome label",
    )


def test_age_bands_by_calendar_year_at_the_decision_date() -> None:
    as_of = dt.date(2026, 5, 1)
    born = [2002, 2001, 1992, 1991, 1962, 1961, None]  # ages 24, 25, 34, 35, 64, 65, unknown
    frame = pl.DataFrame({"born": born, "as_of": [as_of] * len(born)})
    bands = frame.select(band=age_band(pl.col("born"), pl.col("as_of")))["band"].to_list()
    assert bands == ["<25", "25-34", "25-34", "35-44", "55-64", "65+", "unknown"]


def test_blank_or_differently_cased_attributes_fall_into_one_group() -> None:
    frame = pl.DataFrame(
        {
            "sex": ["Female", " female", "", None],
            "marital_status": ["MARRIED", None, "single ", "  "],
            "birth_year": [1990, 1990, 1990, 1990],
            "as_of": [dt.date(2026, 1, 1)] * 4,
        }
    )
    grouped = with_groups(frame)
    assert grouped["sex"].to_list() == ["female", "female", "unknown", "unknown"]
    assert grouped["marital_status"].to_list() == ["married", "unknown", "single", "unknown"]


def _decisions(rows: list[tuple[str, str, int, bool]]) -> pl.DataFrame:
    """(sex, action, score, defaulted) per decision; everything else fixed."""
    n = len(rows)
    return pl.DataFrame(
        {
            "account_id": [f"A{i}" for i in range(n)],
            "as_of": [dt.date(2026, 5, 1)] * n,
            "action": [r[1] for r in rows],
            "grade": ["A" if r[2] >= 650 else "B" for r in rows],
            "score": [r[2] for r in rows],
            "pd": [0.05] * n,
            "sex": [r[0] for r in rows],
            "marital_status": ["single"] * n,
            "birth_year": [1990] * n,
            "defaulted": [r[3] for r in rows],
        },
        schema=DECISION_COLUMNS,
    )


def test_groups_under_the_minimum_are_never_flagged_however_low_their_ratio() -> None:
    rows = [("female", "increase", 700, False)] * 100 + [("female", "keep", 600, True)] * 100
    rows += [("male", "keep", 600, False)] * 99 + [("male", "increase", 700, True)]
    report = fairness_report(_decisions(rows), CycleInfo("2026-H1", "default_next_month"))
    sex = {g["group"]: g for g in report["attributes"][0]["groups"]}
    assert report["min_group_accounts"] == 100
    assert sex["male"]["accounts"] == 100
    assert not sex["male"]["small"]
    assert sex["male"]["air_increase"] == pytest.approx(0.02)
    assert sex["male"]["flagged"]
    few = fairness_report(
        _decisions(rows), CycleInfo("2026-H1", "x"), ReportOptions(min_group_accounts=101)
    )
    # Every group is small: ratios are still given against the highest rate, none flagged.
    few_sex = {g["group"]: g for g in few["attributes"][0]["groups"]}
    assert few_sex["male"]["air_increase"] == pytest.approx(0.02)
    assert few_sex["male"]["small"]
    assert not few_sex["male"]["flagged"]
    assert few["flagged"] == []


def test_the_decrease_ratio_compares_shares_not_decreased() -> None:
    rows = [("female", "decrease", 600, False)] * 10 + [("female", "keep", 600, False)] * 90
    rows += [("male", "decrease", 600, False)] * 30 + [("male", "keep", 600, False)] * 70
    report = fairness_report(
        _decisions(rows), CycleInfo("c", "l"), ReportOptions(min_group_accounts=1)
    )
    sex = {g["group"]: g for g in report["attributes"][0]["groups"]}
    assert report["attributes"][0]["reference_decrease"] == "female"
    assert sex["male"]["air_decrease"] == pytest.approx(0.7 / 0.9, abs=1e-4)
    assert sex["male"]["flags"] == ["air_decrease"]
    assert report["flagged"] == [
        {
            "attribute": "sex",
            "group": "male",
            "measure": "air_decrease",
            "air": 0.7778,
            "accounts": 100,
            "name": "性别 / 男",
        }
    ]
