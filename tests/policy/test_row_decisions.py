"""The one-row decision (``decide_limit_row``: the plan evaluated in plain Python) equals the
frame decision (``decide_limits``) on random feature rows, for every shipped policy, the
experiments' challenger and policies that reach the branches the shipped ones do not (PD
grading, every condition operator, blocking unknown months on book)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cardpilot.policy.catalogue import shipped_dir
from cardpilot.policy.limit_inputs import DecisionInputError, dtype_of
from cardpilot.policy.limits import decide_limit_row, decide_limits, input_columns
from cardpilot.policy.loading import load_policy, policy_from_data, read_policy_data
from cardpilot.policy.schema import FEATURE_COLUMNS, Policy
from experiment_policies import challenger_policy

SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
DAYS = [dt.date(2026, 12, 1), dt.date(2005, 10, 1), dt.date(2027, 3, 31)]
CODES = ["RC_A", "RC_B", "KEEP_NO_SCORE", "RC_C"]
TEXTS = {"RC_A": {"zh-CN": "甲", "en": "A"}, "RC_B": {"zh-CN": "乙", "en": "B"}}


def _pd_graded() -> Policy:
    limits, reasons = read_policy_data()
    limits["grading"]["basis"] = "pd"
    bands = [(0.0, 0.02), (0.02, 0.05), (0.05, 0.12), (0.12, 1.0)]
    for grade, (low, high) in zip(limits["grades"], bands, strict=True):
        grade["pd"] = {"min": low, "max": high}
    return policy_from_data(limits, reasons)


def _every_operator() -> Policy:
    limits, reasons = read_policy_data()
    limits["review"]["decrease_between_reviews"] = False
    limits["guards"]["unknown_months_on_book"] = "block"
    limits["guards"]["custom"] = [
        {
            "reason": "KEEP_RECENT_OVERDUE",
            "when": {"not": {"feature": "education", "op": "in", "value": ["university", "x"]}},
        },
        {"reason": "KEEP_COOLING_PERIOD", "when": {"feature": "age", "op": "is_null"}},
        {
            "reason": "KEEP_CAP_INCOME",
            "when": {
                "all": [
                    {"feature": "education", "op": "not_in", "value": ["graduate"]},
                    {"feature": "bill_growth", "op": "not_null"},
                    {"feature": "bill_growth", "op": "!=", "value": 0.25},
                    {"feature": "annual_income_minor", "op": "<=", "value_yuan": 60000},
                ]
            },
        },
    ]
    return policy_from_data(limits, reasons)


def _policies(tmp: Path) -> dict[str, Policy]:
    shipped = {p.name: load_policy(p) for p in sorted(shipped_dir().iterdir()) if _limits(p)}
    fixture = Path(__file__).parents[1] / "fixtures" / "policies" / "uci-twd-2026.11"
    return shipped | {
        "fixture-uci": load_policy(fixture),
        "challenger": load_policy(challenger_policy(tmp)),
        "pd-graded": _pd_graded(),
        "every-operator": _every_operator(),
    }


def _limits(folder: Path) -> bool:
    return (folder / "limits.yaml").is_file()


@pytest.fixture(scope="module")
def policies(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Policy]:
    return _policies(tmp_path_factory.mktemp("policies"))


def _maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


_DATES = _maybe(st.dates(dt.date(2004, 1, 1), dt.date(2028, 12, 31)))
_COUNT = _maybe(st.integers(0, 7))


def _feature(name: str) -> st.SearchStrategy[Any]:
    kind = FEATURE_COLUMNS[name]
    if name == "education":
        return _maybe(st.sampled_from(["university", "graduate", "high_school", "x"]))
    if kind == "float":
        return _maybe(st.floats(-0.5, 2.0, allow_nan=False) | st.sampled_from([0.25, 0.5, 0.9]))
    if kind == "money":
        return _maybe(st.integers(0, 300_000_000))
    if name in ("age", "months_on_book", "months_since_last_overdue"):
        return _maybe(st.integers(0, 240))
    return _COUNT


@st.composite
def feature_rows(draw: st.DrawFn) -> dict[str, Any]:
    row: dict[str, Any] = {
        name: draw(_feature(name))
        for name in FEATURE_COLUMNS
        if name not in ("months_since_review", "months_since_limit_change")
    }
    row |= {
        "account_id": draw(st.text("0123456789", min_size=1, max_size=6)),
        "score": draw(_maybe(st.integers(200, 1000))),
        "pd": draw(_maybe(st.floats(-0.1, 1.1, allow_nan=False) | st.sampled_from([0.02, 0.05]))),
        "reason_codes": draw(_maybe(st.lists(st.sampled_from(CODES), max_size=4))),
        "positive_codes": draw(_maybe(st.lists(st.sampled_from(CODES), max_size=4))),
        "model_version": draw(_maybe(st.just("m1"))),
        "credit_limit_minor": draw(st.integers(0, 30_000_000) | st.sampled_from([100_000, 0])),
        "last_review_on": draw(_DATES),
        "last_limit_change_on": draw(_DATES),
        "increase_hold_until": draw(_DATES),
    }
    for name in ("months_overdue_latest", "overdue_count_3m", "consecutive_overdue_months"):
        row[f"{name}_since_limit_change"] = draw(_COUNT)
    if draw(st.booleans()):  # an account no guard stops: the increases and their caps
        row |= dict.fromkeys(_OVERDUE, 0) | {
            "score": draw(st.integers(550, 950)),
            "pd": draw(st.floats(0.0, 0.2)),
            "months_since_last_overdue": draw(_maybe(st.integers(12, 60))),
            "months_on_book": draw(st.integers(12, 240)),
            "last_limit_change_on": draw(
                _maybe(st.dates(dt.date(2004, 1, 1), dt.date(2005, 1, 1)))
            ),
            "last_review_on": draw(_maybe(st.dates(dt.date(2004, 1, 1), dt.date(2005, 1, 1)))),
            "increase_hold_until": None,
            "utilisation_latest": draw(st.floats(0.2, 0.95)),
            "utilisation_avg_6m": draw(st.floats(0.2, 0.95)),
            "payment_ratio_avg_6m": draw(st.floats(0.3, 1.0)),
            "cash_advance_share": draw(st.floats(0.0, 0.3)),
            "annual_income_minor": draw(_maybe(st.integers(5_000_000, 100_000_000))),
            "age": draw(st.integers(18, 80)),
            "credit_limit_minor": draw(
                st.integers(100_000, 8_000_000) | st.sampled_from([7_500_000, 1_750_000, 4_000_000])
            ),
        }
    return row


_OVERDUE = (
    "months_overdue_latest",
    "max_months_overdue_6m",
    "overdue_count_3m",
    "overdue_count_6m",
    "consecutive_overdue_months",
)


def _frame(rows: list[dict[str, Any]], policy: Policy) -> pl.DataFrame:
    names = sorted(set(rows[0]) & input_columns(policy.limits))
    return pl.DataFrame(
        [[row.get(n) for n in names] for row in rows],
        schema={n: dtype_of(n) for n in names},
        orient="row",
    )


@SETTINGS
@given(
    rows=st.lists(feature_rows(), min_size=1, max_size=12),
    as_of=st.sampled_from(DAYS),
    texts=st.sampled_from([None, TEXTS]),
)
def test_one_row_decision_equals_the_frame_decision_for_every_policy(
    policies: dict[str, Policy],
    rows: list[dict[str, Any]],
    as_of: dt.date,
    texts: dict[str, dict[str, str]] | None,
) -> None:
    for name, policy in policies.items():
        frame = decide_limits(_frame(rows, policy), policy, as_of, reason_texts=texts)
        one = [decide_limit_row(r, policy, as_of, reason_texts=texts) for r in rows]
        assert one == frame.to_dicts(), name


def test_the_policies_cover_score_and_pd_grading(policies: dict[str, Policy]) -> None:
    assert {p.limits.grading.basis for p in policies.values()} == {"score", "pd"}
    assert {"default", "credit-data", "uci-twd"} <= set(policies)


def test_one_row_decision_refuses_a_row_without_the_columns_the_policy_reads(
    policies: dict[str, Policy],
) -> None:
    with pytest.raises(DecisionInputError, match="credit_limit_minor"):
        decide_limit_row({"account_id": "1", "score": 700}, policies["default"], DAYS[0])
    row = dict.fromkeys(input_columns(policies["default"].limits)) | {"account_id": "1"}
    with pytest.raises(DecisionInputError, match="null"):
        decide_limit_row(row, policies["default"], DAYS[0])
