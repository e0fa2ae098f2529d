"""Reading the UCI layout: the real file, and a damaged copy with one of each kind of bad row."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from cardpilot.ingest.sources import SourceError
from cardpilot.ingest.uci import COLUMNS, LABEL, read_uci

REPO = Path(__file__).resolve().parents[2]
UCI = REPO.parent / "shared" / "data" / "uci_credit_card_default.csv"

GOOD = "1,20000,2,2,1,24,2,2,-1,-1,-2,-2,3913,3102,689,0,0,0,0,689,0,0,0,0,1"
GOOD2 = "2,120000,2,2,2,26,-1,2,0,0,0,2,2682,1725,2682,3272,3455,3261,0,1000,1000,1000,0,2000,1"


def _row(account_id: int, **changes: str) -> str:
    fields = GOOD.split(",")
    fields[0] = str(account_id)
    for column, value in changes.items():
        fields[COLUMNS.index(column)] = value
    return ",".join(fields)


def write_damaged_uci(path: Path) -> dict[int, tuple[str, str]]:
    """A UCI file with good rows and one row of each kind of damage.

    Returns {line number: (field, reason fragment)} for the bad lines.
    """
    lines = [
        ",".join(COLUMNS),
        GOOD,  # line 2
        GOOD2,  # line 3
        _row(3, X1="12x00"),  # 4: malformed number
        _row(4, X1="-5000"),  # 5: negative limit
        _row(5, X5=""),  # 6: missing required value
        ",".join(_row(6).split(",")[:20]),  # 7: short row
        _row(7, X6="11"),  # 8: out-of-range repayment code
        _row(2),  # 9: duplicate id (line 3 has ID 2)
        _row(8, X18="10.005"),  # 10: more than 2 decimals
        _row(9, X1="5.00E+05"),  # 11: spreadsheet notation, exact: good
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {
        4: ("X1", "not an amount"),
        5: ("X1", "negative"),
        6: ("X5", "missing required value"),
        7: ("X20", "short row"),
        8: ("X6", "code out of range"),
        9: ("ID", "duplicate"),
        10: ("X18", "more than 2 decimal places"),
    }


def test_damaged_uci_file_keeps_good_rows_and_reports_each_bad_row(tmp_path: Path) -> None:
    path = tmp_path / "damaged.csv"
    expected = write_damaged_uci(path)

    read = read_uci(path)

    assert sorted(read.accounts["account_id"].to_list()) == ["1", "2", "9"]
    assert read.statements.height == 18
    assert read.rejected_rows == len(expected)
    for line, (field, reason) in expected.items():
        hits = read.rejects.filter(pl.col("row") == line)
        assert hits.height == 1, f"line {line}: {hits}"
        assert hits["file"][0] == str(path)
        assert hits["field"][0] == field
        assert reason in hits["reason"][0]
    limit_9 = read.accounts.filter(pl.col("account_id") == "9")["credit_limit_minor"][0]
    assert limit_9 == 50_000_000


def test_repayment_codes_become_days_past_due_thirty_per_month_of_delay(tmp_path: Path) -> None:
    path = tmp_path / "codes.csv"
    row = _row(1, X6="9", X7="8", X8="1", X9="0", X10="-1", X11="-2")
    path.write_text(",".join(COLUMNS) + "\n" + row + "\n", encoding="utf-8")

    statements = read_uci(path).statements

    assert statements["cycle_date"].to_list() == [
        dt.date(2005, 4, 30),
        dt.date(2005, 5, 31),
        dt.date(2005, 6, 30),
        dt.date(2005, 7, 31),
        dt.date(2005, 8, 31),
        dt.date(2005, 9, 30),
    ]
    assert statements["repayment_status"].to_list() == [-2, -1, 0, 1, 8, 9]
    assert statements["days_past_due"].to_list() == [0, 0, 0, 30, 240, 270]
    assert statements["due_date"][0] == dt.date(2005, 5, 20)


def test_file_with_another_header_is_refused_with_what_is_missing(tmp_path: Path) -> None:
    path = tmp_path / "other.csv"
    path.write_text("ID,LIMIT\n1,2\n", encoding="utf-8")
    with pytest.raises(SourceError, match="missing X1"):
        read_uci(path)


@pytest.mark.realdata
def test_real_uci_file_reads_every_row_exactly() -> None:
    if not UCI.exists():
        pytest.skip(f"real data absent: {UCI} (see ../shared/data/README.md)")

    read = read_uci(UCI)

    assert read.rejects.height == 0
    assert read.accounts.height == 30_000
    assert read.statements.height == 180_000
    # README facts: mean X1 = 167,484.32 NT$, mean Y = 0.2212
    assert read.accounts["credit_limit_minor"].mean() == pytest.approx(16_748_432.27, abs=0.01)
    assert read.labels.filter(pl.col("label") == LABEL)["value"].sum() == 6_636
