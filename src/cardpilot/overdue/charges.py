"""Penalty interest and late fees of one overdue account under the policy of its segment.

Joins the policy (``charges`` and the segment's ``treatment``) to the exact computations of
``cardpilot.domain.fees``; the rules and their sources are cited there and in docs/overdue.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

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
