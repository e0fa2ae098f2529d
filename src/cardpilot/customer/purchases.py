"""Large-purchase plans: what the policy offers a customer for a purpose, amount and tenor.

Each product the purpose allows is an option: a dedicated instalment (equal principal parts and
a monthly fee, its schedule and annualised rate from ``cardpilot.domain.plans``, the one plan
arithmetic) or a temporary limit on the card, repaid in equal parts while it lasts. An option
is offered only when it passes the affordability check — its monthly payment at most the
policy's share of the monthly income, and with the instalments already on the ledger at most
its debt-to-income share — and otherwise carries the reasons, in words, why not. Ratios are
compared in integers (basis points), so a plan exactly at a limit is offered and one a fen
above it is not. Pure: values in, options out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from cardpilot.domain.money import BP, format_major
from cardpilot.domain.plans import PlanKind, PlanQuote, add_months, quote_plan
from cardpilot.policy.base import percent_to_bp
from cardpilot.policy.purchases import PurchasePolicy, Purpose


class PurchaseError(ValueError):
    """A request that cannot be planned: names the value and what is allowed."""


@dataclass(frozen=True)
class PurchaseRequest:
    purpose: str
    amount_minor: int
    months: int
    start: dt.date
    monthly_income_minor: int | None


@dataclass(frozen=True)
class AccountPosition:
    """What the plan reads of the account: its limit and balance, grade, and the largest
    month of instalments already due on its ledger after today."""

    account_id: str
    currency: str
    credit_limit_minor: int
    balance_minor: int
    grade: str | None
    existing_monthly_minor: int
    limit_step_minor: int


@dataclass(frozen=True)
class Refusal:
    code: str
    zh_cn: str
    en: str


@dataclass(frozen=True)
class PlanOption:
    product: str
    offered: bool
    reasons: tuple[Refusal, ...] = ()
    monthly_payment_minor: int | None = None
    payment_to_income_bp: int | None = None
    debt_to_income_bp: int | None = None
    quote: PlanQuote | None = None
    temporary_limit_minor: int | None = None
    expires_on: dt.date | None = None


@dataclass
class _Checks:
    """The refusals of one option, worded from the policy's texts."""

    texts: Mapping[str, Mapping[str, str]]
    found: list[Refusal] = field(default_factory=list)

    def add(self, code: str, **values: Any) -> None:
        text = self.texts.get(code, {})
        fill = _Fill(values)
        self.found.append(
            Refusal(
                code,
                text.get("zh-CN", code).format_map(fill),
                text.get("en", code).format_map(fill),
            )
        )


class _Fill(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _ratio_text(bp: int) -> str:
    return f"{Decimal(bp) / 100:.2f}%"


def _afford(
    checks: _Checks,
    monthly: int,
    request: PurchaseRequest,
    position: AccountPosition,
    policy: PurchasePolicy,
) -> tuple[int | None, int | None]:
    """Payment-to-income and debt-to-income (basis points, rounded up) of a monthly payment,
    refusals added where they exceed the policy's limits."""
    income = request.monthly_income_minor
    if income is None or income <= 0:
        checks.add(policy.reasons.income_unknown)
        return None, None
    pti_max = percent_to_bp(policy.max_payment_to_income_pct)
    dti_max = percent_to_bp(policy.max_debt_to_income_pct)
    debts = position.existing_monthly_minor + monthly
    if monthly * BP > income * pti_max:
        checks.add(
            policy.reasons.payment_to_income,
            ratio=_ratio_text(-(-monthly * BP // income)),
            limit=_ratio_text(pti_max),
        )
    if debts * BP > income * dti_max:
        checks.add(
            policy.reasons.debt_to_income,
            ratio=_ratio_text(-(-debts * BP // income)),
            limit=_ratio_text(dti_max),
            existing=format_major(position.existing_monthly_minor),
        )
    return -(-monthly * BP // income), -(-debts * BP // income)


def _in_range(checks: _Checks, amount: int, low: int, high: int, policy: PurchasePolicy) -> None:
    if not low <= amount <= high:
        checks.add(
            policy.reasons.amount_out_of_range, low=format_major(low), high=format_major(high)
        )


def instalment_option(
    request: PurchaseRequest,
    position: AccountPosition,
    policy: PurchasePolicy,
    purpose: Purpose,
    texts: Mapping[str, Mapping[str, str]],
) -> PlanOption:
    product = policy.instalment
    checks = _Checks(texts)
    low = max(product.min_amount_minor, purpose.min_amount_minor)
    high = min(product.max_amount_minor, purpose.max_amount_minor)
    _in_range(checks, request.amount_minor, low, high, policy)
    fee_pct = product.monthly_fee_pct.get(request.months)
    if fee_pct is None:
        tenors = "/".join(str(t) for t in sorted(product.monthly_fee_pct))
        checks.add(policy.reasons.tenor_not_offered, tenors=tenors)
    if checks.found or fee_pct is None:  # no schedule for a plan the product does not have
        return PlanOption("instalment", False, tuple(checks.found))
    quote = quote_plan(
        PlanKind.EQUAL_PRINCIPAL,
        request.amount_minor,
        request.months,
        fee_pct / Decimal(100),
        request.start,
        max_tenor_months=policy.max_tenor_months,
    )
    monthly = max(p.total_minor for p in quote.payments)
    pti, dti = _afford(checks, monthly, request, position, policy)
    return PlanOption(
        "instalment", not checks.found, tuple(checks.found), monthly, pti, dti, quote=quote
    )


def temporary_limit_option(
    request: PurchaseRequest,
    position: AccountPosition,
    policy: PurchasePolicy,
    purpose: Purpose,
    texts: Mapping[str, Mapping[str, str]],
) -> PlanOption:
    product = policy.temporary_limit
    checks = _Checks(texts)
    _in_range(
        checks, request.amount_minor, purpose.min_amount_minor, purpose.max_amount_minor, policy
    )
    if position.grade not in product.grades:
        checks.add(policy.reasons.grade_not_eligible)
    available = max(position.credit_limit_minor - position.balance_minor, 0)
    needed = request.amount_minor - available
    step = position.limit_step_minor
    expires = add_months(request.start, product.months)
    if needed <= 0:
        checks.add(policy.reasons.not_needed, available=format_major(available))
        return PlanOption("temporary_limit", False, tuple(checks.found), expires_on=expires)
    temporary = -(-needed // step) * step
    cap = position.credit_limit_minor * percent_to_bp(product.max_pct_of_limit) // BP // step * step
    if temporary > cap:
        checks.add(policy.reasons.above_temporary_cap, cap=format_major(cap))
    monthly = -(-request.amount_minor // product.months)
    pti, dti = _afford(checks, monthly, request, position, policy)
    return PlanOption(
        "temporary_limit",
        not checks.found,
        tuple(checks.found),
        monthly,
        pti,
        dti,
        temporary_limit_minor=temporary,
        expires_on=expires,
    )


def plan_purchase(
    request: PurchaseRequest,
    position: AccountPosition,
    policy: PurchasePolicy,
    texts: Mapping[str, Mapping[str, str]],
) -> list[PlanOption]:
    """One option per product the purpose allows, offered or with the reasons it is not."""
    purpose = policy.purpose(request.purpose)
    if purpose is None:
        known = ", ".join(p.code for p in policy.purposes)
        raise PurchaseError(f"--purpose {request.purpose!r}: the policy knows {known}")
    if request.amount_minor <= 0:
        raise PurchaseError("--amount must be a positive amount")
    if not 1 <= request.months <= policy.max_tenor_months:
        raise PurchaseError(f"--months must be 1..{policy.max_tenor_months}, not {request.months}")
    builders = {"instalment": instalment_option, "temporary_limit": temporary_limit_option}
    return [builders[p](request, position, policy, purpose, texts) for p in purpose.products]
