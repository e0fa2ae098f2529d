"""CSV that is safe to open in a spreadsheet: no cell can start a formula.

Every CSV cardpilot writes for people (rejects, exports, reports' downloads) goes through
:func:`write_safe_csv`. A text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return would be read by Excel, LibreOffice or Google Sheets as a formula (``=cmd|' /C calc'!A0``
runs a program), so it gets a leading single quote, as the OWASP "CSV Injection" guidance says;
fields are quoted by the CSV writer as needed (embedded quotes doubled). Numeric columns are
written as numbers, and a text cell that is just a plain decimal number (``-12.50``, ``+3``)
is left as it is: a spreadsheet reads it as that number, nothing else.
"""

from __future__ import annotations

from pathlib import Path
from typing import IO

import polars as pl

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_START = r"^[=+\-@\t\r]"
_PLAIN_NUMBER = r"^[+-]?[0-9]+(\.[0-9]+)?$"


def neutralise_cell(value: str) -> str:
    """``value`` with a leading ``'`` when a spreadsheet would read it as a formula."""
    if value.startswith(FORMULA_STARTS) and not _is_plain_number(value):
        return "'" + value
    return value


def _is_plain_number(value: str) -> bool:
    sign = value[:1] in ("+", "-")
    whole, _, fraction = value[1 if sign else 0 :].partition(".")
    digits = "0123456789"
    return (
        bool(whole)
        and all(c in digits for c in whole)
        and ("." not in value or (bool(fraction) and all(c in digits for c in fraction)))
    )


def neutralised(column: pl.Expr) -> pl.Expr:
    """:func:`neutralise_cell` over a text column, vectorised."""
    risky = column.str.contains(_FORMULA_START) & ~column.str.contains(_PLAIN_NUMBER)
    return pl.when(risky).then(pl.concat_str(pl.lit("'"), column)).otherwise(column)


def safe_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with every text column neutralised (other columns as they are)."""
    text = [name for name, dtype in frame.schema.items() if dtype in (pl.Utf8, pl.Categorical)]
    if not text:
        return frame
    return frame.with_columns(neutralised(pl.col(name).cast(pl.Utf8)).alias(name) for name in text)


def write_safe_csv(
    frame: pl.DataFrame, out: str | Path | IO[str] | IO[bytes], *, include_header: bool = True
) -> None:
    """Write ``frame`` as CSV (UTF-8, a header unless told otherwise), formula-safe."""
    safe_frame(frame).write_csv(out, include_header=include_header)
