"""Large-purchase plans, pure: instalments add up to the amount to the fen, the APR is never
below the nominal rate × 12, and no option is offered above the affordability limits; the
schedules of docs/customer.md, checked by hand there, are the ones computed here."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from cardpilot.customer.purchases import AccountPosition, PurchaseRequest, plan_purchase
from cardpilot.domain.money import BP
from cardpilot.policy.base import percent_to_bp
from cardpilot.policy.catalogue import shipped_dir
from cardpilot.policy.customer import load_customer_policy

CUSTOMER = load_customer_policy(shipped_dir() / "default")
POLICY = CUSTOMER.purchases
assert POLICY is not None
TEXTS = CUSTOMER.reason_texts()
START = dt.date(2026, 12, 5)


def _position(**kw) -> AccountPosition:  # type: ignore[no-untyped-def]
    base = {
        "account_id": "A1",
        "currency": "CNY",
        "credit_limit_minor": 5_000_000,
        "balance_minor": 1_000_000,
        "grade": "good",
        "existing_monthly_minor": 0,
        "limit_step_minor": 10_000,
    }
    return AccountPosition(**{**base, **kw})


requests = st.builds(
    PurchaseRequest,
    purpose=st.sampled_from([p.code for p in POLICY.purposes]),
    amount_minor=st.integers(1, 40_000_000),
    months=st.sampled_from([*sorted(POLICY.instalment.monthly_fee_pct), 5, 60]),
    start=st.dates(dt.date(2025, 1, 1), dt.date(2030, 12, 31)),
    monthly_income_minor=st.none() | st.integers(0, 10_000_000),
)
positions = st.builds(
    _position,
    credit_limit_minor=st.integers(0, 50_000).map(lambda n: n * 10_000),
    balance_minor=st.integers(-100_000, 20_000_000),
    grade=st.sampled_from(["excellent", "good", "fair", "poor", None]),
    existing_monthly_minor=st.integers(0, 2_000_000),
)


@settings(max_examples=300, deadline=None)
@given(requests, positions)
def test_no_option_is_offered_above_the_affordability_limits(request, position):
    pti = percent_to_bp(POLICY.max_payment_to_income_pct)
    dti = percent_to_bp(POLICY.max_debt_to_income_pct)
    for option in plan_purchase(request, position, POLICY, TEXTS):
        if not option.offered:
            assert option.reasons
            continue
        income = request.monthly_income_minor
        assert income is not None
        monthly = option.monthly_payment_minor
        assert monthly is not None
        assert monthly * BP <= income * pti
        assert (monthly + position.existing_monthly_minor) * BP <= income * dti


@settings(max_examples=300, deadline=None)
@given(requests, positions)
def test_instalments_add_up_to_the_amount_and_the_apr_is_at_least_nominal(request, position):
    for option in plan_purchase(request, position, POLICY, TEXTS):
        quote = option.quote
        if quote is None:
            continue
        assert sum(p.principal_minor for p in quote.payments) == request.amount_minor
        assert quote.apr >= quote.nominal_annual_rate
        assert option.monthly_payment_minor == max(p.total_minor for p in quote.payments)
        assert len(quote.payments) == request.months <= POLICY.max_tenor_months


def test_a_car_over_twelve_months_is_the_schedule_checked_by_hand():
    request = PurchaseRequest("car", 12_000_000, 12, START, 4_000_000)
    options = {o.product: o for o in plan_purchase(request, _position(), POLICY, TEXTS)}
    instalment = options["instalment"]
    assert instalment.offered
    q = instalment.quote
    assert q is not None
    assert {(p.principal_minor, p.fee_minor) for p in q.payments} == {(1_000_000, 72_000)}
    assert q.payments[0].due_date == dt.date(2027, 1, 5)
    assert q.total_fee_minor == 864_000
    assert q.apr == Decimal("0.13034224")
    assert q.ear == Decimal("0.13841785")
    assert instalment.payment_to_income_bp == 2680  # 10,720 / 40,000
    # 120,000 less the 40,000 available: 80,000 needed, above 50 % of a 50,000 limit.
    temporary = options["temporary_limit"]
    assert not temporary.offered
    assert [r.code for r in temporary.reasons] == [
        "PLAN_ABOVE_TEMPORARY_CAP",
        "PLAN_PAYMENT_TO_INCOME",  # 120,000 in three months: 100 % of the income
        "PLAN_DEBT_TO_INCOME",
    ]
    assert temporary.reasons[0].zh_cn == "所需临时额度超过可提供的上限25000.00。"


def test_a_remainder_goes_to_the_first_instalment():
    request = PurchaseRequest("home_furnishing", 5_000_000, 6, START, 6_000_000)
    options = {o.product: o for o in plan_purchase(request, _position(), POLICY, TEXTS)}
    q = options["instalment"].quote
    assert q is not None
    assert [p.principal_minor for p in q.payments] == [833_335] + [833_333] * 5
    assert {p.fee_minor for p in q.payments} == {35_000}
    assert q.apr == Decimal("0.14259642")
    temporary = options["temporary_limit"]
    # 50,000 less 40,000 available: a 10,000 temporary limit, repaid 16,666.67 a month
    # (27.78 % of a 60,000 income).
    assert temporary.temporary_limit_minor == 1_000_000
    assert temporary.monthly_payment_minor == 1_666_667
    assert temporary.expires_on == dt.date(2027, 3, 5)
    assert temporary.offered


def test_without_income_nothing_is_offered_and_the_reason_says_so():
    request = PurchaseRequest("travel", 1_000_000, 6, START, None)
    options = plan_purchase(request, _position(balance_minor=4_500_000), POLICY, TEXTS)
    assert [o.product for o in options] == ["temporary_limit", "instalment"]
    assert not any(o.offered for o in options)
    assert all(o.reasons[-1].code == "PLAN_INCOME_UNKNOWN" for o in options)


def test_existing_instalments_count_against_debt_to_income():
    request = PurchaseRequest("renovation", 6_000_000, 12, START, 2_000_000)
    free = plan_purchase(request, _position(), POLICY, TEXTS)[0]
    assert free.offered  # 5,360 / 20,000 = 26.8 %
    burdened = plan_purchase(request, _position(existing_monthly_minor=600_000), POLICY, TEXTS)[0]
    assert not burdened.offered  # (5,360 + 6,000) / 20,000 = 56.8 % > 50 %
    assert [r.code for r in burdened.reasons] == ["PLAN_DEBT_TO_INCOME"]
    assert "56.80%" in burdened.reasons[0].en
