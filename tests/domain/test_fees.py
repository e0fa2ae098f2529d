"""Penalty interest and late fees: exact, capped, no interest on fees."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cardpilot.domain.fees import (
    ChargeError,
    ChargeRules,
    OverdueBalances,
    capped_charge,
    daily_rate_from_annual,
    interest_base,
    late_fee,
    penalty_interest,
    waived_amount,
)

RATE = Decimal("0.0005")  # 万分之五 a day


def test_penalty_interest_is_simple_on_principal_at_a_daily_rate():
    b = OverdueBalances(principal_minor=1_000_000, interest_minor=50_000, fees_minor=20_000)
    assert penalty_interest(b, 30, RATE) == 15_000  # 10,000 yuan × 0.05 % × 30 = 150 yuan


def test_fees_never_bear_interest_by_default():
    b = OverdueBalances(principal_minor=0, interest_minor=0, fees_minor=1_000_000)
    assert penalty_interest(b, 30, RATE) == 0
    assert interest_base(b, ChargeRules(interest_on_fees=True)) == 1_000_000


def test_penalty_interest_compounds_only_when_the_policy_allows():
    b = OverdueBalances(principal_minor=1_000_000, interest_minor=100_000)
    assert interest_base(b, ChargeRules()) == 1_000_000
    assert interest_base(b, ChargeRules(compound_penalty=True)) == 1_100_000


def test_rounding_is_half_up_once_per_period():
    b = OverdueBalances(principal_minor=1_001)
    assert penalty_interest(b, 1, RATE) == 1  # 0.5005 fen → 1
    assert penalty_interest(OverdueBalances(principal_minor=999), 1, RATE) == 0  # 0.4995


def test_late_fee_is_a_share_of_the_unpaid_minimum_within_min_and_max():
    assert late_fee(100_000, Decimal("0.05")) == 5_000
    assert late_fee(10_000, Decimal("0.05"), min_fee_minor=1_000) == 1_000
    assert late_fee(500, Decimal("0.05"), min_fee_minor=1_000) == 500  # never above unpaid
    assert late_fee(10_000_000, Decimal("0.05"), max_fee_minor=50_000) == 50_000
    assert late_fee(0, Decimal("0.05"), min_fee_minor=1_000) == 0


def test_cap_limits_total_interest_and_fees_to_a_share_of_principal():
    assert capped_charge(100_000, 90_000, 20_000, Decimal(1)) == 10_000
    assert capped_charge(100_000, 120_000, 20_000, Decimal(1)) == 0
    assert capped_charge(100_000, 120_000, 20_000, None) == 20_000


def test_annual_rate_to_daily_on_act_365():
    assert daily_rate_from_annual(Decimal("0.1825")) == Decimal("0.0005")


def test_negative_values_are_refused():
    with pytest.raises(ChargeError):
        OverdueBalances(principal_minor=-1)
    with pytest.raises(ChargeError):
        waived_amount(100, 10_001)


@given(st.integers(0, 10**10), st.integers(0, 10**10), st.integers(0, 365))
def test_fees_do_not_change_penalty_interest(principal, fees, days):
    with_fees = OverdueBalances(principal_minor=principal, fees_minor=fees)
    without = OverdueBalances(principal_minor=principal)
    assert penalty_interest(with_fees, days, RATE) == penalty_interest(without, days, RATE)


@given(st.integers(0, 10**10), st.integers(0, 10_000))
def test_waiver_never_exceeds_the_fees(fees, share):
    assert 0 <= waived_amount(fees, share) <= fees
