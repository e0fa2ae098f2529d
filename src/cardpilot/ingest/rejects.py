"""Reject records: one per bad field of a bad row, written to a CSV the user can open.

Columns ``file, row, field, value, reason``. ``row`` is the line number in a CSV file (the header
is line 1) or the 1-based row number in a Parquet file. Values of personal fields are redacted;
control characters in a value are shown as ``\\xNN``; and no cell can start a spreadsheet formula
(:mod:`cardpilot.csv_safety`).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from cardpilot.csv_safety import write_safe_csv

REJECT_SCHEMA: dict[str, pl.DataType] = {
    "file": pl.Utf8(),
    "row": pl.Int64(),
    "field": pl.Utf8(),
    "value": pl.Utf8(),
    "reason": pl.Utf8(),
}


def empty_rejects() -> pl.DataFrame:
    return pl.DataFrame(schema=REJECT_SCHEMA)


def default_rejects_path(home: Path, now: dt.datetime | None = None) -> Path:
    """``<home>/rejects/import-YYYYMMDDTHHMMSSZ.csv``: one file per run, never overwritten."""
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%dT%H%M%S%fZ")
    return home / "rejects" / f"import-{stamp}.csv"


def rejected_row_count(rejects: pl.DataFrame) -> int:
    """Rows rejected (a row with three bad fields counts once)."""
    if rejects.height == 0:
        return 0
    return rejects.select(pl.struct("file", "row").n_unique()).item()  # type: ignore[no-any-return]


class RejectsWriter:
    """Appends reject records chunk by chunk so a large import never holds them all."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.records = 0
        self._rows: set[tuple[str, int]] = set()
        self._opened = False

    def write(self, rejects: pl.DataFrame) -> None:
        if rejects.height == 0:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        frame = rejects.select(list(REJECT_SCHEMA)).cast(REJECT_SCHEMA)  # type: ignore[arg-type]
        shown = frame.with_columns(
            _escaped_controls(pl.col("value")), _escaped_controls(pl.col("file"))
        )
        with self.path.open("a" if self._opened else "w", encoding="utf-8", newline="") as out:
            write_safe_csv(shown, out, include_header=not self._opened)
        self._opened = True
        self.records += frame.height
        self._rows.update(zip(frame["file"].to_list(), frame["row"].to_list(), strict=True))

    @property
    def rows(self) -> int:
        return len(self._rows)

    def discard(self) -> None:
        """Remove what was written: the rejects of an import that did not happen."""
        if self._opened:
            self.path.unlink(missing_ok=True)
        self._opened = False
        self.records = 0
        self._rows.clear()


def _escaped_controls(column: pl.Expr) -> pl.Expr:
    """Control characters as ``\\xNN``, so a NUL or a line break in a value stays visible."""
    escaped = column
    for code in [*range(0x20), 0x7F]:
        escaped = escaped.str.replace_all(chr(code), f"\\x{code:02x}", literal=True)
    return pl.when(column.str.contains(r"[\x00-\x1f\x7f]")).then(escaped).otherwise(column)
