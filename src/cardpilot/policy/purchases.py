"""The ``purchases`` section of ``customer.yaml``: large-purchase plans (car, renovation, ...).

Purposes and their products are policy data: each purpose names the products it may have — a
temporary limit on the card, a dedicated instalment (专项分期) with its monthly fee by tenor — and
the amounts it covers. The affordability limits (payment to income, debt to income) and the
tenor cap are policy values with their source: 银保监规〔2022〕13号 caps instalment tenors at five
years and asks that their cost be shown as an annualised rate (REGULATION.md, status "to
check": cardpilot keeps it as the policy's cap and never quotes it to a customer as law).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from cardpilot.domain.plans import MAX_TENOR_MONTHS
from cardpilot.policy.base import Code, Percent, PolicyModel, ReasonCode, YuanAsFen
from cardpilot.policy.schema import Labels

Product = Literal["instalment", "temporary_limit"]
PRODUCTS: tuple[str, ...] = ("instalment", "temporary_limit")


class InstalmentProduct(PolicyModel):
    """A dedicated instalment: equal principal parts plus a monthly fee on the amount."""

    label: Labels
    # Monthly fee rate (percent of the amount) per tenor offered, in months.
    monthly_fee_pct: dict[int, Percent] = Field(min_length=1)
    min_amount_minor: YuanAsFen = Field(alias="min_amount_yuan")
    max_amount_minor: YuanAsFen = Field(alias="max_amount_yuan")


class TemporaryLimitProduct(PolicyModel):
    """A temporary limit on the card, for ``months`` months, repaid within them."""

    label: Labels
    months: int = Field(ge=1, le=12)
    # On top of the permanent limit, at most this share of it.
    max_pct_of_limit: Percent = Field(gt=0)
    # The grades (limits.yaml codes) that may have one.
    grades: list[Code] = Field(min_length=1)


class Purpose(PolicyModel):
    code: Code
    label: Labels
    products: list[Product] = Field(min_length=1)
    min_amount_minor: YuanAsFen = Field(alias="min_amount_yuan")
    max_amount_minor: YuanAsFen = Field(alias="max_amount_yuan")


class PurchaseReasons(PolicyModel):
    """The reason codes a plan gives for an option not offered (texts under ``reasons``)."""

    amount_out_of_range: ReasonCode
    tenor_not_offered: ReasonCode
    income_unknown: ReasonCode
    payment_to_income: ReasonCode
    debt_to_income: ReasonCode
    grade_not_eligible: ReasonCode
    above_temporary_cap: ReasonCode
    not_needed: ReasonCode


class PurchasePolicy(PolicyModel):
    """``cardpilot plan purchase``: purposes, products and the affordability check."""

    # 银保监规〔2022〕13号 (to check): instalment tenor at most five years.
    max_tenor_months: int = Field(default=MAX_TENOR_MONTHS, ge=1, le=MAX_TENOR_MONTHS)
    # The new monthly payment at most this share of the monthly income.
    max_payment_to_income_pct: Percent = Field(gt=0)
    # All monthly instalments (the ledger's and the new one) at most this share of it.
    max_debt_to_income_pct: Percent = Field(gt=0)
    instalment: InstalmentProduct
    temporary_limit: TemporaryLimitProduct
    purposes: list[Purpose] = Field(min_length=1)
    reasons: PurchaseReasons

    @model_validator(mode="after")
    def _consistent(self) -> PurchasePolicy:
        cap = self.max_tenor_months
        too_long = [t for t in self.instalment.monthly_fee_pct if not 1 <= t <= cap]
        if too_long:
            raise ValueError(
                f"instalment.monthly_fee_pct: tenors {too_long} outside 1..{cap} (max_tenor_months)"
            )
        codes = [p.code for p in self.purposes]
        if len(set(codes)) != len(codes):
            raise ValueError(f"purposes: codes must be unique, got {codes}")
        if self.max_payment_to_income_pct > self.max_debt_to_income_pct:
            raise ValueError("max_payment_to_income_pct must not exceed max_debt_to_income_pct")
        return self

    def purpose(self, code: str) -> Purpose | None:
        return next((p for p in self.purposes if p.code == code), None)

    def reason_codes_used(self) -> dict[str, str]:
        return {f"reasons.{k}": v for k, v in self.reasons.model_dump().items()}


class RequestPolicy(PolicyModel):
    """``cardpilot request``: a customer asks for more. A permanent increase is decided now by
    the limit policy (the review's decision, as if the review were due); a temporary one by the
    purchases' ``temporary_limit`` product (its grades, its cap, at most its months)."""

    granted_reason: ReasonCode
    # Granted, but less than asked: the most the policy allows now.
    capped_reason: ReasonCode
    temporary_granted_reason: ReasonCode
    # A temporary limit asked for longer than the product lasts.
    period_reason: ReasonCode

    def reason_codes_used(self) -> dict[str, str]:
        return {f"requests.{k}": v for k, v in self.model_dump().items()}
