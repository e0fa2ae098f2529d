"""An increase never lowers a limit and a decrease never raises it; the recorded increase
percentage is the one applied (after caps and rounding down to the step)."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from cardpilot.domain.money import BP
from cardpilot.policy.limits import decide_limits
from cardpilot.policy.loading import policy_from_data, read_policy_data
from cardpilot.policy.schema import Policy


def _policy(
    *,
    step_yuan: int = 1000,
    pct: tuple[int, int] = (1, 20),
    cap_yuan: int | None = None,
    income_pct: int | None = None,
) -> Policy:
    """The shipped policy with the excellent grade's range and caps replaced."""
    limits, reasons = read_policy_data()
    limits["rounding"]["limit_step_yuan"] = step_yuan
    for grade in limits["grades"]:
        for key in ("min_yuan", "max_yuan"):
            grade["initial_limit"][key] = -(-grade["initial_limit"][key] // step_yuan) * step_yuan
        grade["decrease"]["floor_yuan"] = (
            -(-grade["decrease"]["floor_yuan"] // step_yuan) * step_yuan
        )
        if grade["caps"].get("max_limit_yuan") is not None:
            grade["caps"]["max_limit_yuan"] = (
                -(-grade["caps"]["max_limit_yuan"] // step_yuan) * step_yuan
            )
    excellent = limits["grades"][0]
    excellent["increase_pct"] = {"min": pct[0], "max": pct[1]}
    excellent["caps"] = {"max_limit_yuan": cap_yuan, "max_pct_of_annual_income": income_pct}
    return policy_from_data(limits, reasons)


def _decide(policy: Policy, make_account, make_frame, as_of, **overrides: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    frame = make_frame([make_account(**overrides)])
    return decide_limits(frame, policy, as_of).row(0, named=True)


def _applied_bp(old: int, new: int) -> int:
    exact = Decimal(new - old) * BP / Decimal(old)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def test_a_grade_cap_below_the_current_limit_keeps_the_limit_with_the_cap_reason(
    make_account, make_frame, as_of
):
    policy = _policy(cap_yuan=20_000)
    row = _decide(policy, make_account, make_frame, as_of, credit_limit_minor=2_050_000)
    assert row["action"] == "keep"
    assert row["new_limit_minor"] == 2_050_000
    assert row["reason_codes"][0] == policy.limits.decision_reasons.cap_grade
    assert row["increase_pct_bp"] is None


def test_an_income_cap_below_the_current_limit_keeps_the_limit_with_the_cap_reason(
    make_account, make_frame, as_of
):
    policy = _policy(income_pct=10)
    row = _decide(
        policy,
        make_account,
        make_frame,
        as_of,
        credit_limit_minor=2_050_000,
        annual_income_minor=20_000_000,  # 10 % of 200,000 yuan = 20,000 yuan
    )
    assert row["action"] == "keep"
    assert row["new_limit_minor"] == 2_050_000
    assert row["reason_codes"][0] == policy.limits.decision_reasons.cap_income


def test_a_cap_equal_to_the_current_limit_keeps_it_rather_than_an_increase_of_nothing(
    make_account, make_frame, as_of
):
    policy = _policy(cap_yuan=20_000)
    row = _decide(policy, make_account, make_frame, as_of, credit_limit_minor=2_000_000)
    assert row["action"] == "keep"
    assert row["reason_codes"][0] == policy.limits.decision_reasons.cap_grade


def test_a_capped_increase_records_the_percentage_actually_applied(make_account, make_frame, as_of):
    policy = _policy(pct=(30, 50), cap_yuan=20_000)
    row = _decide(policy, make_account, make_frame, as_of, credit_limit_minor=1_500_000)
    assert row["action"] == "increase"
    assert row["new_limit_minor"] == 2_000_000
    assert row["increase_pct_bp"] == 3333  # 15,000 → 20,000 is 33.33 %, not the 40 % placed
    assert policy.limits.decision_reasons.capped_grade in row["reason_codes"]


def test_an_increase_rounded_down_to_the_step_records_the_rounded_percentage(
    make_account, make_frame, as_of
):
    policy = _policy(pct=(20, 20))
    row = _decide(policy, make_account, make_frame, as_of, credit_limit_minor=2_050_000)
    assert row["action"] == "increase"
    assert row["new_limit_minor"] == 2_400_000  # 24,600 rounded down to the 1,000 step
    assert row["increase_pct_bp"] == _applied_bp(2_050_000, 2_400_000) == 1707


@st.composite
def _cases(draw: st.DrawFn) -> tuple[Policy, list[dict[str, Any]]]:
    step = draw(st.sampled_from([100, 500, 1000]))
    low = draw(st.integers(0, 60))
    high = draw(st.integers(low, 80))
    cap = draw(st.one_of(st.none(), st.integers(1, 200).map(lambda k: k * 1000)))
    income_pct = draw(st.one_of(st.none(), st.integers(1, 100)))
    accounts = draw(
        st.lists(
            st.fixed_dictionaries(
                {
                    "score": st.integers(300, 900),
                    "credit_limit_minor": st.integers(0, 30_000_000),
                    "annual_income_minor": st.one_of(st.none(), st.integers(0, 100_000_000)),
                    "consecutive_overdue_months": st.integers(0, 4),
                    "utilisation_avg_6m": st.floats(0, 1.5),
                }
            ),
            min_size=1,
            max_size=20,
        )
    )
    return _policy(step_yuan=step, pct=(low, high), cap_yuan=cap, income_pct=income_pct), accounts


@settings(max_examples=60, deadline=None)
@given(_cases())
def test_increase_raises_decrease_lowers_and_the_recorded_percentage_is_applied(
    make_account, make_frame, as_of, case
):
    policy, accounts = case
    rows = [make_account(account_id=f"a{i}", **a) for i, a in enumerate(accounts)]
    out = decide_limits(make_frame(rows), policy, as_of)
    for row in out.iter_rows(named=True):
        old, new = row["old_limit_minor"], row["new_limit_minor"]
        if row["action"] == "increase":
            assert new > old, row
            assert row["increase_pct_bp"] == _applied_bp(old, new), row
        elif row["action"] == "decrease":
            assert new < old, row
            assert row["increase_pct_bp"] is None
        else:
            assert new == old, row
            assert row["increase_pct_bp"] is None
    assert out.height == len(accounts)
    assert set(out["action"].unique()) <= {"increase", "keep", "decrease"}
    assert out.schema["increase_pct_bp"] in (pl.Int64, pl.Int32)
