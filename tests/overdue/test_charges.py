"""Charges of one overdue account under the shipped policy."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from cardpilot.domain.fees import OverdueBalances
from cardpilot.overdue.charges import assess_charges, charge_rules
from cardpilot.overdue.loading import load_overdue_policy

POLICY = load_overdue_policy()


def test_shipped_rules_charge_no_interest_on_fees_and_do_not_compound():
    rules = charge_rules(POLICY)
    assert rules.interest_on_fees is False
    assert rules.compound_penalty is False


def test_high_risk_pays_the_higher_daily_rate_and_the_capped_late_fee():
    b = OverdueBalances(principal_minor=1_000_000, interest_minor=30_000, fees_minor=50_000)
    high = assess_charges(POLICY, "high_risk", b, 30, unpaid_minimum_minor=100_000)
    low = assess_charges(POLICY, "low_risk", b, 30, unpaid_minimum_minor=100_000)
    assert high.penalty_interest_minor == 18_000  # 10,000 yuan × 0.06 % × 30 days
    assert low.penalty_interest_minor == 15_000  # × 0.05 %: fees and interest not in the base
    assert high.late_fee_minor == low.late_fee_minor == 5_000  # 5 % of 1,000 yuan unpaid


def test_charges_stop_at_the_cap_on_total_interest_and_fees():
    b = OverdueBalances(principal_minor=100_000)
    c = assess_charges(POLICY, "medium_risk", b, 30, 10_000, charged_so_far_minor=99_000)
    assert c.total_minor == 1_000  # 100 % of the principal in all
    assert c.capped_minor > 0


@given(st.integers(1, 10**9), st.integers(0, 10**9), st.integers(0, 400), st.integers(0, 10**9))
def test_total_charged_never_exceeds_the_cap(principal, so_far, days, unpaid):
    c = assess_charges(
        POLICY, "high_risk", OverdueBalances(principal), days, unpaid, charged_so_far_minor=so_far
    )
    assert c.total_minor >= 0
    assert so_far + c.total_minor <= max(principal, so_far)
