"""Instalment and deferral plans: exact schedules and the annualised rate (年化利率) they cost.

Three kinds:

* ``equal_principal``: the principal in equal parts plus a fixed monthly fee on the original
  principal (the usual card 分期 with 手续费). The principal is split in fen; the first
  instalment takes the remainder (首期收取尾差), so the parts add up to the principal exactly.
  The fee of each period is ``principal × monthly fee rate``, rounded half-up to the fen.
* ``amortising``: a standard annuity at a monthly rate on the outstanding balance; each
  period's interest is rounded half-up to the fen and the last payment absorbs the rounding.
* ``deferral``: payments moved ``defer_months`` later, then equal principal parts with the
  plan's monthly fee (0 for a plain deferral); no late fees while the plan is kept.

APR: the monthly internal rate of return of the customer's exact cash flows × 12 — the simple
annualisation on the principal actually outstanding that PBOC announcement 〔2021〕 No. 3
(status: to check) allows and Chinese issuers disclose; a monthly fee of 0.6 % on 12 equal
parts is about 13.03 % a year, not 7.2 %. The effective annual rate ``(1 + IRR)^12 − 1`` is
shown beside it. 银保监规〔2022〕13号 (to check) asks that the cost of instalments be shown as
an annualised rate; it and 商业银行信用卡业务监督管理办法 art. 70 (to check) bound the tenor at
five years: ``MAX_TENOR_MONTHS`` is the default, the policy may lower it (``max_tenor_months``).

Due dates are monthly from the start date, clamped to the end of shorter months (Jan 31 →
Feb 28/29 → Mar 31): calendar dates in the issuer's time zone (Asia/Shanghai).
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, localcontext
from enum import StrEnum

from cardpilot.domain.money import format_major

MAX_TENOR_MONTHS = 60  # 银保监规〔2022〕13号 / 办法 art. 70 (to check): at most five years
MONTHS_PER_YEAR = 12
RATE_PLACES = Decimal("0.00000001")  # APR/EAR/IRR reported to 1e-8


class PlanKind(StrEnum):
    EQUAL_PRINCIPAL = "equal_principal"
    AMORTISING = "amortising"
    DEFERRAL = "deferral"


class PlanError(ValueError):
    """A plan that cannot be quoted as asked: says which value and the allowed range."""


@dataclass(frozen=True, slots=True)
class Payment:
    """One instalment (fen). ``fee_minor`` is the fee or interest of the period."""

    n: int
    due_date: dt.date
    principal_minor: int
    fee_minor: int

    @property
    def total_minor(self) -> int:
        return self.principal_minor + self.fee_minor


@dataclass(frozen=True, slots=True)
class PlanQuote:
    """A full schedule and what it costs, as disclosed to the customer."""

    kind: PlanKind
    principal_minor: int
    months: int
    monthly_rate: Decimal
    start: dt.date
    defer_months: int
    payments: tuple[Payment, ...]
    irr_monthly: Decimal
    apr: Decimal
    ear: Decimal

    @property
    def total_fee_minor(self) -> int:
        return sum(p.fee_minor for p in self.payments)

    @property
    def total_paid_minor(self) -> int:
        return sum(p.total_minor for p in self.payments)

    @property
    def nominal_annual_rate(self) -> Decimal:
        """The quoted monthly rate × 12: what APR is compared against (APR ≥ this)."""
        return self.monthly_rate * MONTHS_PER_YEAR

    def period_of(self, payment: Payment) -> int:
        """Months from the start to the payment: its period in the IRR."""
        return self.defer_months + payment.n


def add_months(start: dt.date, months: int) -> dt.date:
    """``start`` plus ``months`` calendar months, clamped to the end of a shorter month."""
    index = start.year * 12 + (start.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    last = calendar.monthrange(year, month)[1]
    return dt.date(year, month, min(start.day, last))


def _round(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _check(principal_minor: int, months: int, rate: Decimal, max_tenor_months: int) -> None:
    if principal_minor <= 0:
        raise PlanError(
            f"the principal must be a positive amount in major units (e.g. 12000), "
            f"not {format_major(principal_minor)}"
        )
    if not 1 <= max_tenor_months <= MAX_TENOR_MONTHS:
        raise PlanError(f"the tenor cap must be 1..{MAX_TENOR_MONTHS} months")
    if not 1 <= months <= max_tenor_months:
        raise PlanError(f"months must be 1..{max_tenor_months} (tenor cap), not {months}")
    if rate < 0 or rate >= 1:
        raise PlanError(f"the monthly rate must be in [0, 1), not {rate}")


def split_principal(principal_minor: int, months: int) -> list[int]:
    """Equal parts in fen; the first part takes the remainder so the sum is exact."""
    part, remainder = divmod(principal_minor, months)
    return [part + remainder] + [part] * (months - 1)


def equal_principal_payments(
    principal_minor: int,
    months: int,
    monthly_fee_rate: Decimal,
    start: dt.date,
    defer_months: int = 0,
) -> tuple[Payment, ...]:
    fee = _round(Decimal(principal_minor) * monthly_fee_rate)
    return tuple(
        Payment(n, add_months(start, defer_months + n), part, fee)
        for n, part in enumerate(split_principal(principal_minor, months), start=1)
    )


def amortising_payments(
    principal_minor: int, months: int, monthly_rate: Decimal, start: dt.date
) -> tuple[Payment, ...]:
    if monthly_rate == 0:
        return equal_principal_payments(principal_minor, months, Decimal(0), start)
    with localcontext() as ctx:
        ctx.prec = 40
        factor = (1 + monthly_rate) ** months
        instalment = _round(Decimal(principal_minor) * monthly_rate * factor / (factor - 1))
    out: list[Payment] = []
    balance = principal_minor
    for n in range(1, months + 1):
        interest = _round(Decimal(balance) * monthly_rate)
        part = balance if n == months else min(balance, instalment - interest)
        out.append(Payment(n, add_months(start, n), part, interest))
        balance -= part
    return tuple(out)


def monthly_irr(principal_minor: int, flows: Sequence[tuple[int, int]]) -> Decimal:
    """The monthly rate r with ``principal = Σ amount / (1 + r)^period`` (flows in fen).

    Bisection on the net present value, which rises strictly with r for a loan's cash flows
    (money in at 0, money out later), so it always converges; 200 halvings reach far below
    1e-12. Rates in (-99 %, 1000 %) a month are searched.
    """
    if principal_minor <= 0 or not flows:
        raise PlanError("an IRR needs a positive principal and at least one payment")
    if any(amount < 0 or period < 0 for period, amount in flows):
        raise PlanError("payments and periods must not be negative")

    def npv(rate: float) -> float:
        return principal_minor - sum(a / (1.0 + rate) ** p for p, a in flows)

    low, high = -0.99, 10.0
    if npv(low) > 0 or npv(high) < 0:
        raise PlanError("the IRR of these cash flows is outside -99 %..1000 % a month")
    for _ in range(200):
        mid = (low + high) / 2
        if npv(mid) < 0:
            low = mid
        else:
            high = mid
        if high - low < 1e-15:
            break
    return Decimal(repr((low + high) / 2))


def _quote(
    kind: PlanKind,
    principal_minor: int,
    months: int,
    rate: Decimal,
    start: dt.date,
    defer_months: int,
    payments: tuple[Payment, ...],
) -> PlanQuote:
    flows = [(defer_months + p.n, p.total_minor) for p in payments]
    irr = monthly_irr(principal_minor, flows)
    ear = (1 + irr) ** MONTHS_PER_YEAR - 1
    return PlanQuote(
        kind=kind,
        principal_minor=principal_minor,
        months=months,
        monthly_rate=rate,
        start=start,
        defer_months=defer_months,
        payments=payments,
        irr_monthly=irr.quantize(Decimal("1e-12")),
        apr=(irr * MONTHS_PER_YEAR).quantize(RATE_PLACES, rounding=ROUND_HALF_UP),
        ear=ear.quantize(RATE_PLACES, rounding=ROUND_HALF_UP),
    )


def quote_plan(
    kind: PlanKind | str,
    principal_minor: int,
    months: int,
    monthly_rate: Decimal,
    start: dt.date,
    *,
    defer_months: int = 0,
    max_tenor_months: int = MAX_TENOR_MONTHS,
) -> PlanQuote:
    """The schedule and APR of a plan. ``monthly_rate`` is the fee rate (equal principal,
    deferral) or the interest rate on the balance (amortising)."""
    kind = PlanKind(kind)
    _check(principal_minor, months, monthly_rate, max_tenor_months)
    if defer_months < 0 or (kind is not PlanKind.DEFERRAL and defer_months):
        raise PlanError("defer_months is for deferral plans and must not be negative")
    if kind is PlanKind.DEFERRAL and months + defer_months > max_tenor_months:
        raise PlanError(f"deferral plus instalments must end within {max_tenor_months} months")
    if kind is PlanKind.AMORTISING:
        payments = amortising_payments(principal_minor, months, monthly_rate, start)
    else:
        payments = equal_principal_payments(
            principal_minor, months, monthly_rate, start, defer_months
        )
    return _quote(kind, principal_minor, months, monthly_rate, start, defer_months, payments)


def personalised_plan(
    debt_minor: int,
    monthly_capacity_minor: int,
    monthly_fee_rate: Decimal,
    start: dt.date,
    *,
    max_tenor_months: int = MAX_TENOR_MONTHS,
) -> PlanQuote | None:
    """个性化分期还款 (办法 art. 70, to check): for a customer whose debt exceeds their capacity
    but who is willing to pay, the shortest equal-principal plan whose largest instalment fits
    the monthly capacity, up to the tenor cap. ``None`` when no plan within the cap fits.
    """
    if monthly_capacity_minor <= 0:
        return None
    _check(debt_minor, 1, monthly_fee_rate, max_tenor_months)
    fee = _round(Decimal(debt_minor) * monthly_fee_rate)
    for months in range(1, max_tenor_months + 1):
        largest = split_principal(debt_minor, months)[0] + fee
        if largest <= monthly_capacity_minor:
            return quote_plan(
                PlanKind.EQUAL_PRINCIPAL,
                debt_minor,
                months,
                monthly_fee_rate,
                start,
                max_tenor_months=max_tenor_months,
            )
    return None
