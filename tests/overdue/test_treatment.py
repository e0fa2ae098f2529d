"""Overdue policy file and the vectorised treatment assignment."""

from __future__ import annotations

import copy
import datetime as dt
from decimal import Decimal

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cardpilot.overdue.loading import (
    OverduePolicyError,
    load_overdue_policy,
    overdue_policy_from_data,
    read_overdue_data,
)
from cardpilot.overdue.treatment import (
    TREATMENT_SCHEMA,
    TreatmentInputError,
    assign_treatments,
)

POLICY = load_overdue_policy()
AS_OF = dt.date(2005, 9, 30)


def table(rows: list[dict[str, object]]) -> pl.DataFrame:
    base = {
        "pd": 0.2,
        "bucket": "M1",
        "days_past_due": 30,
        "cures": 0,
        "broken_promises": 0,
        "overdue_balance_minor": 100_000,
        "unpaid_minimum_minor": 20_020,
    }
    return pl.DataFrame([{**base, **r} for r in rows])


def test_shipped_policy_loads_with_the_three_segments_and_china_defaults():
    f = POLICY.file
    assert [s.code for s in f.segments] == ["high_risk", "low_risk", "medium_risk"]
    assert f.charges.interest_on_fees is False
    assert f.charges.compound_penalty is False
    assert f.plans.max_tenor_months == 60
    assert POLICY.version.startswith(f.version + "+")


def test_segments_follow_pd_bucket_cures_and_broken_promises():
    out = assign_treatments(
        table(
            [
                {"account_id": "hi_pd", "pd": 0.5},
                {"account_id": "deep", "pd": 0.01, "days_past_due": 120, "bucket": "M4"},
                {"account_id": "promises", "pd": 0.01, "broken_promises": 2},
                {"account_id": "low", "pd": 0.05},
                {"account_id": "cured", "pd": 0.12, "cures": 1},
                {"account_id": "mid", "pd": 0.2},
                {"account_id": "no_pd", "pd": None},
                {"account_id": "paid", "days_past_due": 0, "bucket": "current"},
            ]
        ),
        POLICY,
        AS_OF,
    )
    seg = dict(zip(out["account_id"], out["risk_segment"], strict=True))
    assert seg == {
        "hi_pd": "high_risk",
        "deep": "high_risk",
        "promises": "high_risk",
        "low": "low_risk",
        "cured": "low_risk",
        "mid": "medium_risk",
        "no_pd": "medium_risk",  # an unknown PD is no evidence of low risk
    }
    assert out.schema == pl.Schema(TREATMENT_SCHEMA)


def test_low_risk_gets_partial_waiver_extension_and_gentle_reminder_with_reasons():
    row = assign_treatments(table([{"account_id": "a", "pd": 0.05}]), POLICY, AS_OF).row(
        0, named=True
    )
    assert row["treatment"] == "gentle_reminder"
    assert row["fee_waived"] is True
    # Charged: penalty interest 1,000.00 × 0.05 % × 30 days = 15.00 plus the late fee 5 % of
    # the unpaid minimum 200.20 = 10.01; waived 50 % of 25.01, half-up = 12.51.
    assert (row["penalty_interest_minor"], row["late_fee_minor"]) == (1_500, 1_001)
    assert row["fee_waived_minor"] == 1_251
    assert row["due_date_extension_days"] == 7
    assert row["limit_action"] == "none"
    assert row["reason_codes"] == [
        "OVERDUE_LOW_PD_EARLY",
        "TREAT_GENTLE_REMINDER",
        "OVERDUE_FEE_WAIVER_PARTIAL",
        "OVERDUE_DUE_DATE_EXTENDED",
    ]
    assert row["reason_texts_zh"][0].startswith("您的账户刚刚逾期")
    assert row["reason_texts_en"][1] == "We will send you a gentle reminder to repay."


def test_high_risk_gets_the_higher_rate_within_the_cap_and_a_freeze():
    row = assign_treatments(table([{"account_id": "a", "pd": 0.6}]), POLICY, AS_OF).row(
        0, named=True
    )
    assert row["penalty_rate_daily"] == Decimal("0.0006")
    assert row["penalty_rate_daily"] <= POLICY.file.charges.penalty_rate_cap_daily
    assert row["limit_action"] == "freeze"
    assert row["contacts_per_week"] > 1
    assert row["harmony_eligible"] is False


def test_missing_input_column_is_named():
    with pytest.raises(TreatmentInputError, match="broken_promises"):
        assign_treatments(table([{"account_id": "a"}]).drop("broken_promises"), POLICY, AS_OF)


def _variant(edit) -> dict:
    data = copy.deepcopy(read_overdue_data())
    edit(data)
    return data


def _seg(data: dict, code: str) -> dict:
    return next(s for s in data["segments"] if s["code"] == code)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: _seg(d, "high_risk")["treatment"].update(fee_waiver_share=10), "fee waiver"),
        (
            lambda d: _seg(d, "high_risk")["treatment"].update(due_date_extension_days=3),
            "extension",
        ),
        (
            lambda d: _seg(d, "low_risk")["treatment"].update(penalty_rate_daily=0.00055),
            "above the standard",
        ),
        (
            lambda d: _seg(d, "low_risk")["treatment"].update(
                limit_action="cut", limit_cut_share=20
            ),
            "limit cut",
        ),
        (
            lambda d: _seg(d, "medium_risk")["treatment"].update(penalty_rate_daily=0.001),
            "above the cap",
        ),
        (lambda d: d["plans"].update(max_tenor_months=72), "max_tenor_months"),
        (lambda d: d["reasons"].pop("OVERDUE_HIGH_PD"), "OVERDUE_HIGH_PD"),
        (
            lambda d: _seg(d, "low_risk")["rules"][0]["when"]["all"].append(
                {"feature": "sex", "op": "==", "value": "F"}
            ),
            r"segments\[1\]\.rules\[0\]\.when\.all\[3\]\.feature: 'sex' is a protected attribute",
        ),
        (
            lambda d: _seg(d, "high_risk")["rules"][1].update(
                when={"feature": "salary", "op": ">", "value": 1}
            ),
            r"segments\[0\]\.rules\[1\]\.when\.feature: unknown feature 'salary'",
        ),
    ],
)
def test_policies_breaking_the_rules_do_not_load(edit, message):
    with pytest.raises(OverduePolicyError, match=message):
        overdue_policy_from_data(_variant(edit))


accounts = st.fixed_dictionaries(
    {
        "pd": st.one_of(st.none(), st.floats(0, 1)),
        "days_past_due": st.integers(0, 400),
        "cures": st.integers(0, 5),
        "broken_promises": st.integers(0, 4),
        "overdue_balance_minor": st.integers(0, 10**9),
        "penalty_fees_minor": st.integers(0, 10**7),
    }
)


@settings(max_examples=50, deadline=None)
@given(st.lists(accounts, min_size=1, max_size=40))
def test_invariants_hold_for_any_portfolio(rows):
    scale = POLICY.file.aging.scale()
    data = [
        {**r, "account_id": f"a{i}", "bucket": scale.bucket_for(r["days_past_due"])}
        for i, r in enumerate(rows)
    ]
    out = assign_treatments(pl.DataFrame(data), POLICY, AS_OF)
    assert out.height == sum(1 for r in rows if r["days_past_due"] > 0)
    standard = POLICY.file.charges.standard_penalty_rate_daily
    cap = POLICY.file.charges.penalty_rate_cap_daily
    for row in out.iter_rows(named=True):
        assert row["risk_segment"] in {"high_risk", "medium_risk", "low_risk"}
        assert row["limit_action"] in {"none", "freeze", "cut"}
        assert 1 <= len(row["reason_codes"]) <= 4
        assert len(row["reason_texts_zh"]) == len(row["reason_codes"])
        assert row["penalty_rate_daily"] <= cap
        if row["risk_segment"] == "high_risk":
            assert not row["fee_waived"]
            assert row["fee_waived_minor"] == 0
            assert row["due_date_extension_days"] == 0
        if row["risk_segment"] == "low_risk":
            assert row["penalty_rate_daily"] <= standard
            assert row["limit_action"] != "cut"
