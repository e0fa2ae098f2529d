"""Figures as the ``--json`` envelope writes them: the one convention for money and rates.

- **Money** is a decimal string in major units (``"1234.56"`` yuan, never ``123456`` fen), and
  the object holding it, or one enclosing it, has a ``currency`` key (ISO 4217 code). Keys name
  the amount (``balance``), never its unit (no ``_minor``, ``_fen``, ``_bp``).
- **Rates** (shares, utilisation, PD, AUC, PSI...) are decimal strings (``"0.123400"``), never
  floats and never basis points.
- **Counts** are JSON integers. No JSON number in the envelope has a fraction part.

Pure: no I/O. ``cardpilot.cli.output.print_json`` applies ``json_value`` to whatever a command
hands it, so a float that slipped through still comes out as a decimal string.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
import numbers
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


def json_value(value: Any) -> Any:
    """``value`` with every figure in the envelope's convention, ready for ``json.dumps``.

    Decimals and floats become decimal strings (a float's shortest exact text; NaN and
    infinities ``None``), dates and times ISO text, paths text, enums their value, tuples and
    sets lists. Integers, strings, booleans and ``None`` stay as they are."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return str(value) if value.is_finite() else None
    if isinstance(value, numbers.Integral):  # NumPy's integers
        return int(value)
    if isinstance(value, numbers.Real):  # NumPy's floats
        return json_value(float(value))
    if isinstance(value, Mapping):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_value(v) for v in value]
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, enum.Enum):
        return json_value(value.value)
    if hasattr(value, "as_json"):
        return json_value(value.as_json())
    raise TypeError(f"not a JSON figure: {type(value).__name__}")
