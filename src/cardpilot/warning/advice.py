"""Proactive repayment advice in the customer's own figures. Pure, exact integer fen.

What a warning message tells the customer to do: the minimum due and its date, what paying
the statement in full saves (the interest the next statement would charge on what paying only
the minimum leaves: the revolving daily rate over one cycle, half-up to the fen, the first
month of the overdue policy's minimum-payment illustration), and the plan the balance
qualifies for, quoted by the plans module (``cardpilot.domain.plans``): its first monthly
payment, its total fees and its APR (the monthly IRR of the exact cash flows × 12).

The plan terms are handed in as plain values (``PlanTerms``), taken by the caller from the
overdue policy's ``plans`` section, so this module reads no policy file of its own.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any

from cardpilot.domain.plans import MAX_TENOR_MONTHS, PlanError, PlanQuote, quote_plan


@dataclass(frozen=True, slots=True)
class PlanTerms:
    """One plan as a warning offers it: the kind, the tenor, and the policy's terms for it."""

    kind: str  # equal_principal | amortising | deferral
    months: int
    monthly_rate: Decimal
    min_principal_minor: int = 0
    defer_months: int = 0
    max_tenor_months: int = MAX_TENOR_MONTHS


@dataclass(frozen=True, slots=True)
class RepaymentAdvice:
    """What the message quotes (fen; the plan fields are None when no plan qualifies)."""

    statement_balance_minor: int
    minimum_due_minor: int
    unpaid_minimum_minor: int
    due_date: dt.date | None
    interest_saved_minor: int  # paying in full rather than the minimum saves this next cycle
    plan_kind: str | None = None
    plan_months: int | None = None
    plan_defer_months: int | None = None
    plan_monthly_payment_minor: int | None = None  # the first instalment (the largest)
    plan_total_fee_minor: int | None = None
    plan_apr: Decimal | None = None  # monthly IRR × 12, e.g. 0.13030000

    def as_json(self) -> dict[str, Any]:
        return {
            "statement_balance_minor": self.statement_balance_minor,
            "minimum_due_minor": self.minimum_due_minor,
            "unpaid_minimum_minor": self.unpaid_minimum_minor,
            "due_date": None if self.due_date is None else self.due_date.isoformat(),
            "interest_saved_minor": self.interest_saved_minor,
            "plan": None
            if self.plan_kind is None
            else {
                "kind": self.plan_kind,
                "months": self.plan_months,
                "defer_months": self.plan_defer_months,
                "monthly_payment_minor": self.plan_monthly_payment_minor,
                "total_fee_minor": self.plan_total_fee_minor,
                "apr": None if self.plan_apr is None else str(self.plan_apr),
            },
        }


def interest_if_minimum_only(
    balance_minor: int, minimum_minor: int, daily_rate: Decimal, cycle_days: int
) -> int:
    """Interest one cycle charges on what paying only the minimum leaves (half-up, fen)."""
    left = max(balance_minor - max(minimum_minor, 0), 0)
    interest = Decimal(left) * daily_rate * cycle_days
    return int(interest.quantize(Decimal(1), rounding=ROUND_HALF_UP))


# An account's interventions of a cycle quote the same plan on the same balance and day (the
# instalment offer and the default advice share their terms, and a rule firing days later
# quotes the statement again): each quote is worked out once. A quote is immutable.
@lru_cache(maxsize=8192)
def plan_quote(principal_minor: int, terms: PlanTerms, start: dt.date) -> PlanQuote | None:
    """The plan on ``principal_minor`` under ``terms``; None when the balance does not
    qualify (below the plan's minimum principal, or nothing to spread)."""
    if principal_minor <= 0 or principal_minor < terms.min_principal_minor:
        return None
    try:
        return quote_plan(
            terms.kind,
            principal_minor,
            terms.months,
            terms.monthly_rate,
            start,
            defer_months=terms.defer_months,
            max_tenor_months=terms.max_tenor_months,
        )
    except PlanError:
        return None


def repayment_advice(
    *,
    statement_balance_minor: int,
    minimum_due_minor: int,
    unpaid_minimum_minor: int,
    due_date: dt.date | None,
    daily_rate: Decimal,
    cycle_days: int,
    plan: PlanTerms | None,
    start: dt.date,
) -> RepaymentAdvice:
    """The advice for one account (see the module); ``start``: the day the plan would start."""
    balance = max(statement_balance_minor, 0)
    saved = interest_if_minimum_only(balance, minimum_due_minor, daily_rate, cycle_days)
    quote = None if plan is None else plan_quote(balance, plan, start)
    base = RepaymentAdvice(
        statement_balance_minor=balance,
        minimum_due_minor=max(minimum_due_minor, 0),
        unpaid_minimum_minor=max(unpaid_minimum_minor, 0),
        due_date=due_date,
        interest_saved_minor=saved,
    )
    if quote is None or plan is None:
        return base
    return RepaymentAdvice(
        statement_balance_minor=base.statement_balance_minor,
        minimum_due_minor=base.minimum_due_minor,
        unpaid_minimum_minor=base.unpaid_minimum_minor,
        due_date=due_date,
        interest_saved_minor=saved,
        plan_kind=plan.kind,
        plan_months=plan.months,
        plan_defer_months=plan.defer_months,
        plan_monthly_payment_minor=quote.payments[0].total_minor,
        plan_total_fee_minor=quote.total_fee_minor,
        plan_apr=quote.apr,
    )
