"""CSV written by cardpilot opens in a spreadsheet without running anything (OWASP CSV
Injection): a text cell starting with = + - @ tab or CR gets a leading quote."""

from __future__ import annotations

import csv
import io

import polars as pl
import pytest

from cardpilot.csv_safety import neutralise_cell, safe_frame, write_safe_csv


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("-12.50", "-12.50"),  # a plain number stays a number
        ("+3", "+3"),
        ("A01", "A01"),
        ("", ""),
        ("张三", "张三"),
    ],
)
def test_a_cell_a_spreadsheet_would_run_gets_a_leading_quote(cell: str, written: str) -> None:
    assert neutralise_cell(cell) == written
    frame = safe_frame(pl.DataFrame({"v": [cell]}))
    assert frame["v"][0] == written


def test_numbers_stay_numbers_and_quotes_inside_a_cell_are_doubled() -> None:
    frame = pl.DataFrame({"id": ['=HYPERLINK("http://x")'], "amount": [-5], "rate": [-0.5]})
    out = io.StringIO()

    write_safe_csv(frame, out)

    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows == [["id", "amount", "rate"], ['\'=HYPERLINK("http://x")', "-5", "-0.5"]]
