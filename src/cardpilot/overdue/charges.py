"""Penalty interest and late fees of one overdue account under the policy of its segment.

Joins the policy (``charges`` and the segment's ``treatment``) to the exact computations of
``cardpilot.domain.fees``; the rules and their sources are cited there and in docs/overdue.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import polars as pl

from cardpilot.domain.fees import (
    ChargeRules,
    OverdueBalances,
    capped_charge,
    late_fee,
    penalty_interest,
)
from cardpilot.overdue.schema import OverduePolicy, Segment


@dataclass(frozen=True, slots=True)
class Charges:
    """What one accrual period charges (fen), after the cap."""

    penalty_interest_minor: int
    late_fee_minor: int
    capped_minor: int  # how much the cap removed

    @property
    def total_minor(self) -> int:
        return self.penalty_interest_minor + self.late_fee_minor


def charge_rules(policy: OverduePolicy) -> ChargeRules:
    c = policy.file.charges
    share = None if c.fee_cap_share_of_principal is None else c.fee_cap_share_of_principal / 100
    return ChargeRules(
        interest_on_fees=c.interest_on_fees,
        compound_penalty=c.compound_penalty,
        fee_cap_share_of_principal=share,
    )


def segment(policy: OverduePolicy, code: str) -> Segment:
    for s in policy.file.segments:
        if s.code == code:
            return s
    known = ", ".join(s.code for s in policy.file.segments)
    raise KeyError(f"segment {code!r} is not in the policy; known: {known}")


def daily_penalty_rate(policy: OverduePolicy, segment_code: str) -> Decimal:
    """The segment's penalty rate per day, within the policy cap."""
    rate = segment(policy, segment_code).treatment.penalty_rate_daily
    return min(rate, policy.file.charges.penalty_rate_cap_daily)


def assess_charges(
    policy: OverduePolicy,
    segment_code: str,
    balances: OverdueBalances,
    days: int,
    unpaid_minimum_minor: int,
    charged_so_far_minor: int = 0,
) -> Charges:
    """Penalty interest for ``days`` days and the late fee for the missed minimum payment,
    capped so interest + fees on the debt stay within the policy's share of the principal."""
    rules = charge_rules(policy)
    fee_terms = segment(policy, segment_code).treatment.late_fee
    interest = penalty_interest(balances, days, daily_penalty_rate(policy, segment_code), rules)
    fee = late_fee(unpaid_minimum_minor, fee_terms.rate, fee_terms.min_yuan, fee_terms.max_yuan)
    allowed_interest = capped_charge(
        balances.principal_minor, charged_so_far_minor, interest, rules.fee_cap_share_of_principal
    )
    allowed_fee = capped_charge(
        balances.principal_minor,
        charged_so_far_minor + allowed_interest,
        fee,
        rules.fee_cap_share_of_principal,
    )
    return Charges(
        penalty_interest_minor=allowed_interest,
        late_fee_minor=allowed_fee,
        capped_minor=interest + fee - allowed_interest - allowed_fee,
    )


# --------------------------------------------------------------------------- vectorised

# The largest denominator a rate may have in lowest terms for the integer plan below: the
# remainder term ``2 × b × num`` stays under 2**63 (b < den, num ≤ den).
MAX_RATE_DENOMINATOR = 10**9


def exact_ratio(value: Decimal) -> tuple[int, int]:
    """A Decimal as an exact integer ratio ``(num, den)`` in lowest terms, ``den > 0``."""
    num, den = value.as_integer_ratio()
    if den > MAX_RATE_DENOMINATOR:
        raise ValueError(f"rate {value} has too many decimal places for the integer plan")
    return num, den


def half_up_times(x: pl.Expr, num: pl.Expr, den: pl.Expr) -> pl.Expr:
    """``round_half_up(x × num / den)`` in Int64 for ``x ≥ 0`` and ``0 ≤ num ≤ den``.

    ``x = a·den + b``: ``x·num/den = a·num + b·num/den``, and the half-up of the fractional
    part is ``(2·b·num + den) // (2·den)`` — exact, no float, no overflow for
    ``den ≤ MAX_RATE_DENOMINATOR`` (``domain.fees.round_to_fen`` with ROUND_HALF_UP)."""
    a, b = x // den, x % den
    return a * num + (2 * b * num + den) // (2 * den)


def _per_segment(policy: OverduePolicy, segment_col: str, values: list[int]) -> pl.Expr:
    return pl.col(segment_col).replace_strict(
        [s.code for s in policy.file.segments], values, return_dtype=pl.Int64()
    )


def charge_exprs(
    policy: OverduePolicy,
    *,
    segment_col: str = "risk_segment",
    principal_col: str = "overdue_balance_minor",
    days_col: str = "days_past_due",
    unpaid_col: str = "unpaid_minimum_minor",
    charged_so_far_col: str | None = None,
) -> tuple[pl.Expr, pl.Expr]:
    """``assess_charges`` for every row at once: (penalty interest, late fee) after the cap,
    both Int64 fen, with integer arithmetic only.

    Per row as ``assess_charges(policy, segment, OverdueBalances(max(0, principal)), days,
    max(0, unpaid), charged_so_far)``: the segment's daily rate within the policy cap, the
    rates and the cap share as exact integer ratios of their Decimals, every rounding half-up
    to the fen once (``domain.fees``). The balances carry principal only (interest and fees
    charged earlier are not in the frame), so ``interest_on_fees`` and ``compound_penalty``
    do not change the base, as in ``assess_charges`` with ``OverdueBalances(principal)``.
    Bounds: principal × days < 2**63 (any card balance); the parity with ``assess_charges``
    is a property test (tests/overdue/test_charges.py)."""
    segments = policy.file.segments
    rate_n, rate_d, fee_n, fee_d, fee_min, fee_max = [], [], [], [], [], []
    for s in segments:
        rn, rd = exact_ratio(daily_penalty_rate(policy, s.code))
        fn, fd = exact_ratio(s.treatment.late_fee.rate)
        rate_n.append(rn)
        rate_d.append(rd)
        fee_n.append(fn)
        fee_d.append(fd)
        fee_min.append(s.treatment.late_fee.min_yuan)
        fee_max.append(
            -1 if s.treatment.late_fee.max_yuan is None else s.treatment.late_fee.max_yuan
        )
    principal = pl.col(principal_col).cast(pl.Int64).clip(lower_bound=0)
    days = pl.col(days_col).cast(pl.Int64)
    unpaid = pl.col(unpaid_col).cast(pl.Int64).fill_null(0).clip(lower_bound=0)

    def seg(values: list[int]) -> pl.Expr:
        return _per_segment(policy, segment_col, values)

    interest = half_up_times(principal * days, seg(rate_n), seg(rate_d))
    fee = half_up_times(unpaid, seg(fee_n), seg(fee_d))
    fee = pl.max_horizontal(fee, pl.min_horizontal(seg(fee_min), unpaid))
    if any(m >= 0 for m in fee_max):
        top = seg(fee_max)
        fee = pl.when(top >= 0).then(pl.min_horizontal(fee, top)).otherwise(fee)
    fee = pl.when(unpaid > 0).then(fee).otherwise(0)
    share = charge_rules(policy).fee_cap_share_of_principal
    if share is None:
        return interest.cast(pl.Int64), fee.cast(pl.Int64)
    cn, cd = exact_ratio(share)
    cap = half_up_times(principal, pl.lit(cn, pl.Int64), pl.lit(cd, pl.Int64))
    so_far = (
        pl.lit(0, pl.Int64)
        if charged_so_far_col is None
        else pl.col(charged_so_far_col).cast(pl.Int64).fill_null(0)
    )
    room = cap - so_far
    allowed_interest = pl.min_horizontal(interest, room).clip(lower_bound=0)
    allowed_fee = pl.min_horizontal(fee, room - allowed_interest).clip(lower_bound=0)
    return allowed_interest.cast(pl.Int64), allowed_fee.cast(pl.Int64)


def assess_charges_frame(frame: pl.DataFrame, policy: OverduePolicy) -> pl.DataFrame:
    """``frame`` (``risk_segment, overdue_balance_minor, days_past_due,
    unpaid_minimum_minor`` and optionally ``charged_so_far_minor``) with
    ``penalty_interest_minor`` and ``late_fee_minor`` added (``charge_exprs``)."""
    so_far = "charged_so_far_minor" if "charged_so_far_minor" in frame.columns else None
    interest, fee = charge_exprs(policy, charged_so_far_col=so_far)
    return frame.with_columns(interest.alias("penalty_interest_minor"), fee.alias("late_fee_minor"))
