"""A warning's plan quote is worked out once per balance, terms and day: the interventions of
an account's cycle quote the same plan, and get the quote the plans module gives."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from cardpilot.domain.plans import quote_plan
from cardpilot.warning.advice import PlanTerms, plan_quote

TERMS = PlanTerms(kind="equal_principal", months=12, monthly_rate=Decimal("0.006"))
DAY = dt.date(2026, 11, 21)


def test_the_same_balance_terms_and_day_get_the_one_quote_the_plans_module_gives() -> None:
    first = plan_quote(1_234_567, TERMS, DAY)
    assert first is plan_quote(1_234_567, TERMS, DAY)
    assert first == quote_plan("equal_principal", 1_234_567, 12, Decimal("0.006"), DAY)


def test_another_balance_or_day_gets_a_quote_of_its_own() -> None:
    first = plan_quote(1_234_567, TERMS, DAY)
    other = plan_quote(1_234_568, TERMS, DAY)
    later = plan_quote(1_234_567, TERMS, DAY + dt.timedelta(days=31))
    assert first is not None
    assert other is not None
    assert later is not None
    assert other.principal_minor == 1_234_568
    assert later.start == DAY + dt.timedelta(days=31)
    assert plan_quote(0, TERMS, DAY) is None
