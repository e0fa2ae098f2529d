"""Charges of one overdue account under the shipped policy, and the vectorised assessment of
the treatment (``charge_exprs``) against it: equal for every row (Hypothesis)."""

from __future__ import annotations

import copy
from decimal import Decimal
from pathlib import Path

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from cardpilot.domain.fees import OverdueBalances
from cardpilot.overdue.charges import assess_charges, assess_charges_frame, charge_rules
from cardpilot.overdue.loading import (
    load_overdue_policy,
    overdue_policy_from_data,
    read_overdue_data,
)
from cardpilot.overdue.schema import OverduePolicy

ROOT = Path(__file__).resolve().parents[2]
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


# ------------------------------------------- the vectorised assessment (treatment, report)

TWD = load_overdue_policy(ROOT / "src" / "cardpilot" / "policies" / "uci-twd")
SHIPPED = {"default": POLICY, "uci-twd": TWD}

account = st.tuples(
    st.sampled_from(["high_risk", "medium_risk", "low_risk"]),
    st.integers(-1_000, 10**11),  # overdue principal, fen (negative: a credit balance)
    st.integers(1, 5_000),  # days past due
    st.integers(-1_000, 10**10),  # unpaid minimum, fen
    st.integers(0, 10**11),  # interest and fees already charged on the debt
)


def _parity(policy: OverduePolicy, rows: list[tuple[str, int, int, int, int]]) -> None:
    frame = pl.DataFrame(
        rows,
        schema=[
            "risk_segment",
            "overdue_balance_minor",
            "days_past_due",
            "unpaid_minimum_minor",
            "charged_so_far_minor",
        ],
        orient="row",
    )
    out = assess_charges_frame(frame, policy)
    for seg, principal, days, unpaid, so_far, interest, fee in out.iter_rows():
        want = assess_charges(
            policy, seg, OverdueBalances(max(0, principal)), days, max(0, unpaid), so_far
        )
        assert (interest, fee) == (want.penalty_interest_minor, want.late_fee_minor), (
            seg,
            principal,
            days,
            unpaid,
            so_far,
        )


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(sorted(SHIPPED)),
    st.lists(account, min_size=1, max_size=40),
    st.booleans(),
)
def test_vectorised_charges_equal_assess_charges_on_the_shipped_policies(name, rows, fresh):
    # fresh: nothing charged before, as the treat job and the report assess a period
    _parity(SHIPPED[name], [(*r[:4], 0) for r in rows] if fresh else rows)


def test_vectorised_charges_round_half_up_at_the_fen_boundaries():
    # 0.05 %/day: 1 fen × 1 day = 0.0005 fen → 0; 1,000 fen-days = 0.5 fen → 1 (half-up);
    # late fee 5 % of 10 fen = 0.5 → 1; of 30 fen = 1.5 → 2; the minimum fee never exceeds the
    # unpaid amount; the maximum holds.
    rows = [
        ("low_risk", 1, 1, 10, 0),
        ("low_risk", 1_000, 1, 30, 0),
        ("medium_risk", 999, 1, 500, 0),
        ("medium_risk", 10**9, 3_000, 10**9, 0),
        ("high_risk", 10**6, 400, 1, 0),
        ("high_risk", 0, 30, 0, 0),
    ]
    _parity(POLICY, rows)
    _parity(TWD, rows)


def _rate(digits: int) -> st.SearchStrategy[Decimal]:
    return st.integers(0, 10**digits - 1).map(lambda n: Decimal(n).scaleb(-digits))


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            _rate(8), _rate(6), st.integers(0, 5_000), st.one_of(st.none(), st.integers(0, 10**5))
        ),
        min_size=3,
        max_size=3,
    ),
    _rate(8),
    st.one_of(st.none(), st.integers(0, 10_000).map(lambda n: Decimal(n).scaleb(-2))),
    st.lists(account, min_size=1, max_size=20),
)
def test_vectorised_charges_equal_assess_charges_for_any_rates_and_cap(terms, cap, share, rows):
    data = copy.deepcopy(read_overdue_data())
    data["charges"]["fee_cap_share_of_principal"] = None if share is None else str(share)
    # The policy keeps every segment's rate within the cap (and low risk within the standard).
    top = max([cap, *(t[0] for t in terms)])
    data["charges"]["penalty_rate_cap_daily"] = str(top)
    data["charges"]["standard_penalty_rate_daily"] = str(top)
    for seg, (rate, fee_rate, lo, hi) in zip(data["segments"], terms, strict=True):
        t = seg["treatment"]
        t["penalty_rate_daily"] = str(rate)
        t["late_fee"] = {"rate": str(fee_rate), "min_yuan": lo}
        if hi is not None:
            t["late_fee"]["max_yuan"] = max(hi, lo)
    _parity(overdue_policy_from_data(data), rows)
