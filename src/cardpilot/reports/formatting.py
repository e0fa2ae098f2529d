"""Numbers, money and shares as a reader of the report's locale writes them (Babel's data).

A report is written for one locale (zh-CN by default, en) and one currency. Tables get their
text from here; charts get the same conventions through ``chart_number_locale`` (the d3-format
locale that Vega formats axis labels and tooltips with).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from babel import Locale
from babel.numbers import (
    format_currency,
    format_decimal,
    format_percent,
    get_currency_precision,
    get_currency_symbol,
)

REPORT_LOCALES = ("zh-CN", "en")
DEFAULT_REPORT_LOCALE = "zh-CN"
DASH = "—"


class ReportLocaleError(ValueError):
    """A locale the reports are not written in."""


def report_locale(locale: str | None) -> str:
    """``locale`` if the reports speak it (``en-US`` counts as ``en``), else zh-CN."""
    if locale is None:
        return DEFAULT_REPORT_LOCALE
    if locale in REPORT_LOCALES:
        return locale
    if locale.lower().startswith("en"):
        return "en"
    if locale.lower().replace("_", "-").startswith("zh"):
        return "zh-CN"
    raise ReportLocaleError(f"locale {locale!r}: the reports are written in zh-CN or en")


def configured_locale() -> str:
    """The locale of the configuration (``CARDPILOT_LOCALE``, ``cardpilot.toml``)."""
    from cardpilot.config import get_settings

    return get_settings().locale


@dataclass(frozen=True)
class ReportFormat:
    """How one report writes figures: its locale (``zh-CN`` | ``en``) and currency."""

    locale: str = DEFAULT_REPORT_LOCALE
    currency: str = "CNY"

    @property
    def babel(self) -> str:
        return self.locale.replace("-", "_")

    def major(self, minor: int) -> Decimal:
        """Integer minor units as an exact amount in major units (yuan for CNY)."""
        return Decimal(minor).scaleb(-get_currency_precision(self.currency))

    def money(self, minor: int | None) -> str:
        """``123456789`` fen → ``¥1,234,567.89`` (zh-CN) / ``CN¥1,234,567.89`` (en)."""
        if minor is None:
            return DASH
        return format_currency(self.major(minor), self.currency, locale=self.babel)

    def count(self, value: int | None) -> str:
        """``30000`` → ``30,000``."""
        return DASH if value is None else format_decimal(value, locale=self.babel)

    def number(self, value: float | Decimal | None, digits: int = 2) -> str:
        """A plain figure with separators and ``digits`` decimals."""
        if value is None:
            return DASH
        pattern = "#,##0." + "0" * digits if digits else "#,##0"
        return format_decimal(value, pattern, locale=self.babel)

    def percent(self, share: float | Decimal | str | None, digits: int = 1) -> str:
        """A share (``0.1234`` or ``"0.123400"``) as ``12.3%``."""
        if share is None:
            return DASH
        pattern = "#,##0." + "0" * digits + "%" if digits else "#,##0%"
        return format_percent(Decimal(str(share)), pattern, locale=self.babel)

    def date(self, day: dt.date | str | None) -> str:
        """Dates stay ISO (``2005-10-01``): the reports are read beside exports that use it."""
        if day is None:
            return DASH
        return day if isinstance(day, str) else day.isoformat()

    def currency_symbol(self) -> str:
        return str(get_currency_symbol(self.currency, locale=self.babel))

    def chart_number_locale(self) -> dict[str, Any]:
        """The d3-format locale of the report: separators, grouping and currency placement."""
        symbols = Locale.parse(self.babel).number_symbols["latn"]
        pattern = Locale.parse(self.babel).currency_formats["standard"].pattern
        symbol = self.currency_symbol()
        prefix = pattern.split(";")[0].lstrip().startswith("¤")
        return {
            "decimal": symbols["decimal"],
            "thousands": symbols["group"],
            "grouping": [3],
            "currency": [symbol, ""] if prefix else ["", f"\u00a0{symbol}"],
            "percent": "%",
            "minus": "-",
        }
