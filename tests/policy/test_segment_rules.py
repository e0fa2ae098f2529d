"""The policy condition language and segment rules, evaluated vectorised."""

from __future__ import annotations

import polars as pl
import pytest
from pydantic import TypeAdapter

from cardpilot.policy.conditions import compile_condition
from cardpilot.policy.schema import LimitCondition, LimitPolicy
from cardpilot.policy.segments import assign_segments

CONDITION = TypeAdapter(LimitCondition)
FRAME = pl.DataFrame(
    {
        "utilisation_avg_6m": [0.7, None, 0.2, 0.9],
        "education": ["other", "university", None, "graduate"],
        "spend_avg_6m_minor": [4_000, 6_000, None, 5_000],
    }
)


def holds(spec: dict) -> list[bool]:
    return FRAME.select(compile_condition(CONDITION.validate_python(spec)).alias("x"))[
        "x"
    ].to_list()


def test_comparison_on_null_is_false():
    assert holds({"feature": "utilisation_avg_6m", "op": ">=", "value": 0.5}) == [
        True,
        False,
        False,
        True,
    ]
    assert holds({"feature": "utilisation_avg_6m", "op": "is_null"}) == [False, True, False, False]


def test_all_any_not_and_membership():
    spec = {
        "all": [
            {"feature": "utilisation_avg_6m", "op": ">", "value": 0.5},
            {
                "any": [
                    {"not": {"feature": "education", "op": "in", "value": ["other"]}},
                    {"feature": "spend_avg_6m_minor", "op": "<", "value_yuan": 45},
                ]
            },
        ]
    }
    assert holds(spec) == [True, False, False, True]


def test_money_threshold_is_compared_in_fen():
    assert holds({"feature": "spend_avg_6m_minor", "op": ">=", "value_yuan": 50}) == [
        False,
        True,
        False,
        True,
    ]


@pytest.mark.parametrize(
    "spec",
    [
        {"feature": "education", "op": ">", "value": 3},
        {"feature": "utilisation_avg_6m", "op": "in", "value": 0.5},
        {"feature": "utilisation_avg_6m", "op": "between", "value": 0.5},
        {"feature": "__import__('os')", "op": "==", "value": 1},
        {"all": []},
    ],
)
def test_malformed_conditions_are_rejected(spec):
    with pytest.raises(ValueError):  # noqa: PT011  (pydantic's ValidationError is a ValueError)
        CONDITION.validate_python(spec)


def test_segments_first_match_wins_and_last_is_default(policy):
    lp: LimitPolicy = policy.limits
    frame = pl.DataFrame(
        {
            "account_id": ["strain", "dormant", "large", "cautious", "revolver", "standard"],
            "utilisation_latest": [0.95, 0.0, 0.6, 0.05, 0.4, 0.3],
            "utilisation_avg_6m": [0.95, 0.0, 0.6, 0.05, 0.4, 0.3],
            "payment_ratio_avg_6m": [0.1, 1.0, 1.0, 1.0, 0.3, 0.6],
            "cash_advance_share": [0.0] * 6,
            "overdue_count_6m": [0] * 6,
            "spend_avg_6m_minor": [100_000, 0, 300_000, 20_000, 50_000, 50_000],
            "revolving_months_6m": [6, 0, 0, 0, 5, 1],
        }
    )
    out = assign_segments(frame, lp)
    assert out["segment"].to_list() == [
        "under_strain",
        "dormant",
        "large_on_time",
        "cautious_low",
        "revolver",
        "standard",
    ]
