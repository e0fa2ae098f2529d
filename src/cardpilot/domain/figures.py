"""Figures as the ``--json`` envelope writes them: the one convention for money and rates.

- **Money** is a decimal string in major units (``"1234.56"`` yuan, never ``123456`` fen), and
  the object holding it, or one enclosing it, has a ``currency`` key (ISO 4217 code). Keys name
  the amount (``balance``), never its unit (no ``_minor``, ``_fen``, ``_bp``).
- **Rates** (shares, utilisation, PD, AUC, PSI...) are decimal strings (``"0.123400"``), never
  floats and never basis points.
- **Counts** are JSON integers. No JSON number in the envelope has a fraction part.

Pure: no I/O. ``cardpilot.cli.output.print_json`` applies ``json_value`` to whatever a command
hands it, so a float that slipped through still comes out as a decimal string, and a stored
row's ``limit_minor`` (fen) comes out as ``limit`` (``"1234.56"``), its ``cut_bp`` as ``cut``
(``"0.125000"``): the store's unit suffixes never reach the envelope.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
import numbers
import warnings
from collections.abc import Mapping
from decimal import Decimal
from pathlib import PurePath
from typing import Any

from cardpilot.domain.money import BP, format_major

RATE_PLACES = 6


def money(minor: int | None) -> str | None:
    """Integer minor units as the envelope's money: ``123456`` → ``"1234.56"`` (``None`` stays)."""
    return None if minor is None else format_major(minor)


def rate(value: float | Decimal | str | None, places: int = RATE_PLACES) -> str | None:
    """A rate or share as a decimal string with ``places`` decimals: ``0.1234`` → ``"0.123400"``.

    ``None``, NaN and infinities (a share of nothing) are ``None``."""
    if value is None:
        return None
    number = Decimal(str(value))
    if not number.is_finite():
        return None
    return f"{number:.{places}f}"


def rate_from_bp(bp: int | None) -> str | None:
    """Basis points as a rate: ``1250`` → ``"0.125000"``."""
    return None if bp is None else rate(Decimal(bp) / BP)


MINOR_SUFFIX = "_minor"
BP_SUFFIX = "_bp"


def _whole(value: Any) -> bool:
    return value is None or (isinstance(value, int) and not isinstance(value, bool))


def _in_units(value: Any) -> bool:
    """Whether ``value`` is an amount (or amounts, or the statistics of one: ``{"mean": …}``)
    in whole units, as a store column ending ``_minor``/``_bp`` holds it. A feature's name
    used as a key (``{"spend_avg_6m_minor": 0.31}``: its information value) is not."""
    if _whole(value):
        return True
    if isinstance(value, list | tuple):
        return all(_whole(v) for v in value)
    if isinstance(value, Mapping):
        return bool(value) and all(_whole(v) for v in value.values())
    return False


def _in_unit(value: Any, convert: Any) -> Any:
    """Every integer in ``value`` through ``convert``."""
    if isinstance(value, Mapping):
        return {k: convert(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [convert(v) for v in value]
    return convert(value)


class MoneyWithoutCurrencyWarning(UserWarning):
    """An amount reached the envelope with no ``currency`` beside it or above it."""


def _unit_free(key: str, value: Any, currency_known: bool) -> tuple[str, Any]:
    """A store column's name and value in the envelope's units (``x_minor`` → ``x`` as money,
    ``x_bp`` → ``x`` as a rate); other keys as they are."""
    if not _in_units(value):
        return key, value
    if key.endswith(MINOR_SUFFIX) and len(key) > len(MINOR_SUFFIX):
        if not currency_known:
            warnings.warn(
                f"{key}: an amount without a currency key beside it or above it",
                MoneyWithoutCurrencyWarning,
                stacklevel=4,
            )
        return key.removesuffix(MINOR_SUFFIX), _in_unit(value, money)
    if key.endswith(BP_SUFFIX) and len(key) > len(BP_SUFFIX):
        return key.removesuffix(BP_SUFFIX), _in_unit(value, rate_from_bp)
    return key, value


def _decimal_text(value: Decimal) -> str | None:
    """A finite decimal as plain text, never in exponent form (``1E-7`` → ``0.0000001``)."""
    return format(value, "f") if value.is_finite() else None


def json_value(value: Any, *, currency_known: bool = False) -> Any:
    """``value`` with every figure in the envelope's convention, ready for ``json.dumps``.

    Decimals and floats become decimal strings (a float's shortest exact text; NaN and
    infinities ``None``), dates and times ISO text, paths text, enums their value, tuples and
    sets lists, frames lists of rows; a key ending ``_minor`` (integer minor units) drops the
    suffix and holds money, one ending ``_bp`` (basis points) a rate. Integers, strings,
    booleans and ``None`` stay as they are.

    An amount converted where no enclosing object has ``currency`` (``currency_known``) is
    told with a ``MoneyWithoutCurrencyWarning``: the envelope test turns it into a failure."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return _decimal_text(Decimal(repr(value))) if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return _decimal_text(value)
    if isinstance(value, numbers.Integral):  # NumPy's integers
        return int(value)
    if isinstance(value, numbers.Real):  # NumPy's floats
        return json_value(float(value))
    if isinstance(value, Mapping):
        known = currency_known or "currency" in value
        pairs = [_unit_free(str(k), v, known) for k, v in value.items()]
        return {k: json_value(v, currency_known=known) for k, v in pairs}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_value(v, currency_known=currency_known) for v in value]
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, enum.Enum):
        return json_value(value.value, currency_known=currency_known)
    if hasattr(value, "to_dicts"):  # a Polars frame: its rows
        return json_value(value.to_dicts(), currency_known=currency_known)
    if hasattr(value, "as_json"):
        return json_value(value.as_json(), currency_known=currency_known)
    raise TypeError(f"not a JSON figure: {type(value).__name__}")
