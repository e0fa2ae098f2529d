"""Penalty interest, late fees (违约金) and their caps: exact, with the rules cited.

Money is integer fen; rates are ``Decimal``; every rounding is explicit (``ROUND_HALF_UP`` to
the fen unless the caller passes another mode). The rules a Chinese issuer works under are
switches in ``ChargeRules`` so a bank's compliance team can check and change them
(``overdue.yaml``: ``charges``); the sources and their status are in /docs/overdue.md.

* 银发〔2016〕111号 (PBOC, in force 2017-01-01; status: **confirmed**): no interest may be
  charged on the penalty for late payment (违约金), the annual fee, the cash-advance fee or the
  currency-conversion fee, so fees never enter the interest-bearing balance
  (``interest_on_fees=False``). The same notice abolished 滞纳金 and left 违约金 to the card
  contract: the late fee's rate, minimum and maximum are policy values.
* PBOC announcement 〔2020〕 No. 22 (status: to check): the cap and floor on the overdraft
  rate (0.05 % a day, floor 0.7 × that, set by 银发〔2016〕111号) were lifted from 2021-01-01,
  so the penalty rate and its cap are policy values, not constants here.
* No compounding of penalty interest unless the policy explicitly allows it
  (``compound_penalty=False``): a bank practice and a consumer-protection expectation, not a
  quoted rule; the switch exists because contracts differ.
* 银保监规〔2022〕13号 (status: to check): issuers keep total interest and fees of defaulting
  customers in check; the consultation draft capped them at the principal. Optional
  ``fee_cap_share_of_principal``.

Day count: penalty interest accrues per calendar day at a daily rate (the form Chinese card
contracts quote, e.g. 万分之五 = 0.05 % a day). An annual rate is turned into a daily rate on
ACT/365 (``daily_rate_from_annual``); both are stated in the policy.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from cardpilot.domain.money import BP

DAYS_PER_YEAR_ACT365 = 365


class ChargeError(ValueError):
    """A charge that cannot be computed as asked (negative amount, rate out of range)."""


def round_to_fen(amount_fen: Decimal, rounding: str = ROUND_HALF_UP) -> int:
    """An exact amount in fen (possibly fractional) to whole fen, with an explicit rule."""
    return int(amount_fen.quantize(Decimal(1), rounding=rounding))


def daily_rate_from_annual(
    annual_rate: Decimal, days_in_year: int = DAYS_PER_YEAR_ACT365
) -> Decimal:
    """ACT/365 by default: the daily rate is the annual rate over 365, unrounded."""
    if annual_rate < 0:
        raise ChargeError(f"a rate cannot be negative: {annual_rate}")
    return annual_rate / Decimal(days_in_year)


@dataclass(frozen=True, slots=True)
class ChargeRules:
    """The switches where rules (or contracts) differ. Defaults are the China defaults."""

    # 银发〔2016〕111号 (confirmed): no interest on 违约金, annual fee, cash-advance fee.
    interest_on_fees: bool = False
    # Penalty interest on unpaid penalty interest only if the policy says so.
    compound_penalty: bool = False
    # 银保监规〔2022〕13号 (to check): interest + fees of a defaulting debt ≤ share × principal.
    fee_cap_share_of_principal: Decimal | None = None
    rounding: str = ROUND_HALF_UP


@dataclass(frozen=True, slots=True)
class OverdueBalances:
    """What an overdue account owes, split the way the rules treat it (fen).

    ``principal_minor``: purchases and cash advances unpaid (interest-bearing);
    ``interest_minor``: interest and penalty interest charged and unpaid;
    ``fees_minor``: 违约金, annual fee, cash-advance fee, conversion fee charged and unpaid.
    """

    principal_minor: int
    interest_minor: int = 0
    fees_minor: int = 0

    def __post_init__(self) -> None:
        for name in ("principal_minor", "interest_minor", "fees_minor"):
            if getattr(self, name) < 0:
                raise ChargeError(f"{name} cannot be negative: {getattr(self, name)}")


def interest_base(balances: OverdueBalances, rules: ChargeRules) -> int:
    """The balance penalty interest accrues on, in fen."""
    base = balances.principal_minor
    if rules.compound_penalty:
        base += balances.interest_minor
    if rules.interest_on_fees:  # off by default: 银发〔2016〕111号 forbids it (confirmed)
        base += balances.fees_minor
    return base


def penalty_interest(
    balances: OverdueBalances,
    days: int,
    daily_rate: Decimal,
    rules: ChargeRules = ChargeRules(),
) -> int:
    """Penalty interest for ``days`` calendar days at ``daily_rate``, simple within the period.

    ``base × daily_rate × days``, rounded once at the end (not per day), so splitting a period
    never changes more than a fen per split.
    """
    if days < 0:
        raise ChargeError(f"days cannot be negative: {days}")
    if daily_rate < 0:
        raise ChargeError(f"a rate cannot be negative: {daily_rate}")
    exact = Decimal(interest_base(balances, rules)) * daily_rate * Decimal(days)
    return round_to_fen(exact, rules.rounding)


def late_fee(
    unpaid_minimum_minor: int,
    rate: Decimal,
    min_fee_minor: int = 0,
    max_fee_minor: int | None = None,
    rounding: str = ROUND_HALF_UP,
) -> int:
    """违约金 on the unpaid part of the minimum payment: ``rate × unpaid``, within [min, max].

    Nothing unpaid, no fee; the minimum never makes the fee exceed the unpaid amount itself.
    Rate, minimum and maximum are the card contract's (银发〔2016〕111号, confirmed), so policy.
    """
    if unpaid_minimum_minor <= 0:
        return 0
    if rate < 0:
        raise ChargeError(f"a rate cannot be negative: {rate}")
    fee = round_to_fen(Decimal(unpaid_minimum_minor) * rate, rounding)
    fee = max(fee, min(min_fee_minor, unpaid_minimum_minor))
    if max_fee_minor is not None:
        fee = min(fee, max_fee_minor)
    return fee


def capped_charge(
    principal_minor: int,
    charged_so_far_minor: int,
    new_charge_minor: int,
    cap_share: Decimal | None,
) -> int:
    """The part of a new interest/fee charge allowed under a cap of ``cap_share × principal``.

    ``cap_share=None`` means no cap. The cap counts every interest and fee already charged on
    the debt (银保监规〔2022〕13号, to check).
    """
    if new_charge_minor < 0 or charged_so_far_minor < 0:
        raise ChargeError("charges cannot be negative")
    if cap_share is None:
        return new_charge_minor
    cap = round_to_fen(Decimal(principal_minor) * cap_share, ROUND_HALF_UP)
    return max(0, min(new_charge_minor, cap - charged_so_far_minor))


def waived_amount(fees_minor: int, share_bp: int) -> int:
    """The part of ``fees_minor`` waived at ``share_bp`` basis points, half-up to the fen."""
    if not 0 <= share_bp <= BP:
        raise ChargeError(f"a waiver share must be 0..10000 bp, not {share_bp}")
    if fees_minor <= 0:
        return 0
    return round_to_fen(Decimal(fees_minor) * share_bp / BP)
