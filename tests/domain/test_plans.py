"""Instalment schedules and APR: exact to the fen, APR as monthly IRR × 12."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cardpilot.domain.plans import (
    MAX_TENOR_MONTHS,
    PlanError,
    PlanKind,
    add_months,
    monthly_irr,
    personalised_plan,
    quote_plan,
)

START = dt.date(2026, 1, 31)


def test_12000_yuan_over_12_months_at_0_6_percent_costs_864_with_apr_about_13_03_percent():
    q = quote_plan(PlanKind.EQUAL_PRINCIPAL, 1_200_000, 12, Decimal("0.006"), START)
    assert [p.total_minor for p in q.payments] == [107_200] * 12
    assert q.total_fee_minor == 86_400
    assert q.apr == (q.irr_monthly * 12).quantize(Decimal("0.00000001"))
    assert abs(q.apr - Decimal("0.1303")) < Decimal("0.0005")
    assert q.ear > q.apr > q.nominal_annual_rate == Decimal("0.072")


def test_due_dates_are_monthly_and_clamped_to_month_end():
    q = quote_plan(PlanKind.EQUAL_PRINCIPAL, 1_200_000, 3, Decimal("0.006"), START)
    assert [p.due_date for p in q.payments] == [
        dt.date(2026, 2, 28),
        dt.date(2026, 3, 31),
        dt.date(2026, 4, 30),
    ]
    assert add_months(dt.date(2024, 1, 31), 1) == dt.date(2024, 2, 29)


def test_first_instalment_takes_the_remainder_fen():
    q = quote_plan(PlanKind.EQUAL_PRINCIPAL, 1_000, 3, Decimal(0), START)
    assert [p.principal_minor for p in q.payments] == [334, 333, 333]


def test_tenor_above_sixty_months_is_refused():
    with pytest.raises(PlanError, match=r"1\.\.60"):
        quote_plan(PlanKind.EQUAL_PRINCIPAL, 100_000, 61, Decimal("0.006"), START)
    with pytest.raises(PlanError, match=r"1\.\.24"):
        quote_plan(PlanKind.AMORTISING, 100_000, 36, Decimal("0.01"), START, max_tenor_months=24)


def test_zero_fee_plan_has_zero_apr():
    q = quote_plan(PlanKind.DEFERRAL, 300_000, 3, Decimal(0), START, defer_months=2)
    assert q.apr == 0
    assert q.payments[0].due_date == dt.date(2026, 4, 30)  # 2 months deferred, then monthly


def test_amortising_apr_is_the_nominal_rate():
    q = quote_plan(PlanKind.AMORTISING, 1_200_000, 12, Decimal("0.01"), START)
    assert sum(p.principal_minor for p in q.payments) == 1_200_000
    assert abs(q.apr - Decimal("0.12")) < Decimal("0.0001")
    assert len({p.total_minor for p in q.payments[:-1]}) == 1


def test_irr_recovers_a_known_rate():
    r = 0.0125
    flows = [(t, round(1_000_000 * r / (1 - (1 + r) ** -24))) for t in range(1, 25)]
    assert abs(float(monthly_irr(1_000_000, flows)) - r) < 1e-6


def test_personalised_plan_is_the_shortest_that_fits_capacity():
    q = personalised_plan(5_000_000, 150_000, Decimal("0.003"), START)
    assert q is not None
    assert max(p.total_minor for p in q.payments) <= 150_000
    shorter = personalised_plan(
        5_000_000, 150_000, Decimal("0.003"), START, max_tenor_months=q.months - 1
    )
    assert shorter is None
    assert personalised_plan(50_000_000, 10_000, Decimal("0.003"), START) is None


principals = st.integers(min_value=1, max_value=10**10)
months = st.integers(min_value=1, max_value=MAX_TENOR_MONTHS)
rates = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("0.03"), places=4)


@settings(max_examples=200, deadline=None)
@given(principals, months, rates, st.sampled_from(list(PlanKind)))
def test_principal_parts_always_sum_to_the_principal(principal, n, rate, kind):
    q = quote_plan(kind, principal, n, rate, START)
    assert sum(p.principal_minor for p in q.payments) == principal
    assert all(p.principal_minor >= 0 and p.fee_minor >= 0 for p in q.payments)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=10_000, max_value=10**10), months, rates)
def test_equal_principal_apr_is_at_least_the_nominal_rate(principal, n, rate):
    q = quote_plan(PlanKind.EQUAL_PRINCIPAL, principal, n, rate, START)
    # Fees on the original principal cost more than the same nominal rate on the balance.
    # The monthly fee is rounded half-up to the fen, which can lower it by at most half a fen:
    # the APR can fall below the nominal rate by at most 12 × 0.5 / principal (+ APR rounding).
    slack = Decimal(6) / principal + Decimal("0.00000001")
    assert q.apr >= q.nominal_annual_rate - slack
    if (principal * rate) == int(principal * rate):  # fee exact to the fen: strictly no slack
        assert q.apr >= q.nominal_annual_rate - Decimal("0.00000001")
    assert q.ear >= q.apr
