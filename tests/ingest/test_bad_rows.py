"""The bad-row corpus (tests/ingest/corpus): each bad row is rejected with its file, row, field
and reason, every good row is kept, and the rejects file is safe to open in a spreadsheet.

One row per case of hostile input: fullwidth and Arabic-Indic digits, control characters in
ids, a quoted line break followed by a line with an extra field, short and long rows in one
file, absurd dates, a due date before its cycle date, a status that contradicts the days past
due, days past due of 99999, a malformed phone and e-mail, one national id on two customers, a
formula as an id; and a lower-case currency that is kept, upper-cased.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import text

from cardpilot.config import Settings
from cardpilot.jobs.importing import import_portfolio
from cardpilot.store.db import make_engine

CORPUS = Path(__file__).parent / "corpus"
IMPORT_DATE = dt.date(2026, 1, 15)  # the corpus's date rules are judged against this day


def _expected(prefix: str) -> pl.DataFrame:
    return pl.read_csv(CORPUS / "expected.csv", infer_schema=False).filter(
        pl.col("file").str.starts_with(prefix)
    )


def _rejects(path: str | None) -> pl.DataFrame:
    assert path is not None
    return pl.read_csv(path, infer_schema=False).with_columns(pl.col("row").cast(pl.Int64))


def _ids(url: str, table: str, column: str) -> list[str]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text(f"SELECT {column} FROM {table} ORDER BY 1")).all()
        return [str(r[0]) for r in rows]
    finally:
        engine.dispose()


def _assert_each_rejected(rejects: pl.DataFrame, expected: pl.DataFrame, root: str) -> None:
    found = {
        (str(f).removeprefix(root).lstrip("/"), int(r)): (fld, why)
        for f, r, fld, why in rejects.select("file", "row", "field", "reason").iter_rows()
    }
    for file, row, field, reason in expected.iter_rows():
        assert (file, int(row)) in found, f"{file} row {row} not rejected; rejects: {found}"
        got_field, got_reason = found[(file, int(row))]
        assert got_field == field, f"{file} row {row}: field {got_field}, expected {field}"
        assert reason in got_reason, f"{file} row {row}: {got_reason!r} lacks {reason!r}"
    assert len(found) == expected.height, f"unexpected rejects: {sorted(found)}"


def test_each_bad_generic_row_is_rejected_naming_file_row_field_and_reason_and_good_rows_kept(
    store_url: str, tmp_path: Path
) -> None:
    result = import_portfolio(
        CORPUS / "generic",
        layout="generic",
        database_url=store_url,
        settings=Settings(home=tmp_path / "home"),
        today=IMPORT_DATE,
    )

    _assert_each_rejected(_rejects(result.rejects_file), _expected("generic/"), "")
    assert _ids(store_url, "customers", "customer_id") == ["C01", "C09", "C12"]
    assert _ids(store_url, "accounts", "account_id") == ["=cmd|' /C calc'!A0", "A01", "A05", "A06"]
    assert _ids(store_url, "accounts", "currency") == ["CNY"] * 4  # "cny" upper-cased, kept
    assert _ids(store_url, "statements", "account_id") == ["A01", "A01", "A06"]
    assert (result.customers, result.accounts, result.statements) == (3, 4, 3)


def test_each_bad_uci_row_is_rejected_naming_file_row_field_and_reason_and_good_rows_kept(
    store_url: str, tmp_path: Path
) -> None:
    result = import_portfolio(
        CORPUS / "uci.csv",
        layout="uci",
        database_url=store_url,
        settings=Settings(home=tmp_path / "home"),
    )

    _assert_each_rejected(_rejects(result.rejects_file), _expected("uci.csv"), str(CORPUS))
    assert _ids(store_url, "accounts", "account_id") == ["1", "12", "6"]
    assert result.statements == 18
    limits = _ids(store_url, "accounts", "credit_limit_minor")
    assert limits == ["2000000"] * 3  # no fullwidth limit was stored as 0


def test_rejects_file_neutralises_formulas_and_shows_control_characters(tmp_path: Path) -> None:
    result = import_portfolio(
        CORPUS / "generic",
        layout="generic",
        database_url=f"sqlite:///{tmp_path / 'store.db'}",
        settings=Settings(home=tmp_path / "home"),
        today=IMPORT_DATE,
    )

    rejects = _rejects(result.rejects_file)
    formula = rejects.filter(pl.col("row") == 7, pl.col("file").str.ends_with("accounts.csv"))
    assert formula["value"][0] == "'=cmd|' /C calc'!A0"
    nul = rejects.filter(pl.col("row") == 10, pl.col("file").str.ends_with("accounts.csv"))
    assert nul["value"][0] == "A\\x0007"
    raw = Path(result.rejects_file or "").read_bytes()
    assert b"\x00" not in raw
    for cell in rejects.select(pl.all().cast(pl.Utf8)).to_numpy().ravel():
        assert not str(cell).startswith(("=", "@", "\t", "\r")), cell


@pytest.mark.parametrize("value", ["２００００", "٢٠٠٠٠", "20,000", "2 0000", "20000元"])
def test_a_limit_written_with_other_than_ascii_digits_is_a_reject_never_zero(
    tmp_path: Path, value: str
) -> None:
    from cardpilot.ingest.uci import read_uci

    source = tmp_path / "one.csv"
    source.write_text(
        (CORPUS / "uci.csv").read_text(encoding="utf-8").splitlines()[0]
        + "\n"
        + f'1,"{value}",2,2,1,24,2,2,-1,-1,-2,-2,3913,3102,689,0,0,0,0,689,0,0,0,0,1\n',
        encoding="utf-8",
    )

    read = read_uci(source)

    assert read.accounts.height == 0
    assert read.rejects.select("row", "field", "reason").rows() == [(2, "X1", "not an amount")]


# -- one test per case of the corpus (SQLite; the whole corpus runs on both stores above) --------

CASES = pl.read_csv(CORPUS / "expected.csv", infer_schema=False).rows()


@pytest.fixture(scope="module")
def corpus_rejects(
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[tuple[str, int], tuple[str, str]]:
    found: dict[tuple[str, int], tuple[str, str]] = {}
    for source, layout in ((CORPUS / "generic", "generic"), (CORPUS / "uci.csv", "uci")):
        folder = tmp_path_factory.mktemp(layout)
        result = import_portfolio(
            source,
            layout=layout,
            database_url=f"sqlite:///{folder / 'store.db'}",
            settings=Settings(home=folder / "home"),
            today=IMPORT_DATE,
        )
        for file, row, field, reason in (
            _rejects(result.rejects_file).select("file", "row", "field", "reason").iter_rows()
        ):
            name = str(file).removeprefix(str(CORPUS)).lstrip("/")
            found[(name, int(row))] = (field, reason)
    return found


@pytest.mark.parametrize(
    ("file", "row", "field", "reason"), CASES, ids=[f"{c[0]}:{c[1]}:{c[2]}" for c in CASES]
)
def test_the_corpus_row_is_rejected_with_its_field_and_reason(
    corpus_rejects: dict[tuple[str, int], tuple[str, str]],
    file: str,
    row: str,
    field: str,
    reason: str,
) -> None:
    assert (file, int(row)) in corpus_rejects
    got_field, got_reason = corpus_rejects[(file, int(row))]
    assert got_field == field
    assert reason in got_reason
