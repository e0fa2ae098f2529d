"""Money as integer minor units (fen / cents). Never float.

Conversions from decimal text round half-up to the minor unit; the rule is explicit here
because card contracts and disclosures quote amounts to the fen.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

MINOR_PER_MAJOR = 100  # CNY, TWD, USD, EUR: two decimal places
BP = 10_000  # 100 % in basis points: every share and percentage held as an integer


class MoneyError(ValueError):
    """An amount that cannot be read as money."""


def to_minor(amount: str | int | Decimal) -> int:
    """Major units (e.g. ``"1234.56"`` yuan) to integer minor units (123456 fen), half-up."""
    if isinstance(amount, bool):
        raise MoneyError(f"not an amount: {amount!r}")
    if isinstance(amount, int):
        return amount * MINOR_PER_MAJOR
    try:
        value = Decimal(str(amount).strip().replace(",", ""))
    except InvalidOperation as exc:
        raise MoneyError(f"not an amount: {amount!r}") from exc
    if not value.is_finite():
        raise MoneyError(f"not an amount: {amount!r}")
    return int((value * MINOR_PER_MAJOR).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def to_major(minor: int) -> Decimal:
    """Integer minor units to an exact Decimal in major units (two places)."""
    return (Decimal(minor) / MINOR_PER_MAJOR).quantize(Decimal("0.01"))


def format_major(minor: int) -> str:
    """``123456`` → ``"1234.56"``: the decimal-string form used in JSON output (the text of
    ``to_major``, in integer arithmetic: a story or a report formats thousands of amounts)."""
    whole, cents = divmod(abs(int(minor)), MINOR_PER_MAJOR)
    return f"{'-' if minor < 0 else ''}{whole}.{cents:02d}"
