"""Files as banks have them: Windows line ends, a byte-order mark, GB18030/GBK text, the UCI
file's published header; and what an import leaves when it fails."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import text

from cardpilot.cli.output import envelope_data
from cardpilot.config import Settings
from cardpilot.ingest.problems import SourceError
from cardpilot.ingest.uci import COLUMNS, PUBLISHED_NAMES, read_uci
from cardpilot.jobs.importing import import_portfolio
from cardpilot.privacy import FieldCipher
from cardpilot.store.db import make_engine

CARDPILOT = str(Path(sys.executable).parent / "cardpilot")
ROW = "1,20000,2,2,1,24,2,2,-1,-1,-2,-2,3913,3102,689,0,0,0,0,689,0,0,0,0,1"
KAGGLE = (
    "ID,LIMIT_BAL,SEX,EDUCATION,MARRIAGE,AGE,PAY_0,PAY_2,PAY_3,PAY_4,PAY_5,PAY_6,"
    "BILL_AMT1,BILL_AMT2,BILL_AMT3,BILL_AMT4,BILL_AMT5,BILL_AMT6,"
    "PAY_AMT1,PAY_AMT2,PAY_AMT3,PAY_AMT4,PAY_AMT5,PAY_AMT6,default.payment.next.month"
)


def _cli(*args: str, home: Path) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "CARDPILOT_HOME": str(home), "COLUMNS": "1000"}
    return subprocess.run([CARDPILOT, *args], env=env, capture_output=True, timeout=600)


@pytest.mark.realdata
@pytest.mark.slow
@pytest.mark.parametrize("copy", ["crlf", "gb18030"])
def test_the_real_uci_file_with_crlf_or_in_gb18030_adds_30000_accounts_and_rejects_none(
    uci_path: Path, tmp_path: Path, copy: str
) -> None:
    source = tmp_path / f"uci-{copy}.csv"
    original = uci_path.read_bytes()
    if copy == "crlf":
        source.write_bytes(original.replace(b"\n", b"\r\n"))
        extra: list[str] = []
    else:
        source.write_bytes(original.decode("utf-8").encode("gb18030"))
        extra = ["--encoding", "gb18030"]
    url = f"sqlite:///{tmp_path / 'store.db'}"

    done = _cli(
        "import",
        str(source),
        "--format",
        "uci",
        "--database",
        url,
        "--json",
        *extra,
        home=tmp_path / "home",
    )

    assert done.returncode == 0, done.stderr.decode()
    result = envelope_data(done.stdout)
    assert (result["accounts"], result["statements"], result["rejected"]) == (30_000, 180_000, 0)


def test_a_gbk_file_without_encoding_is_one_error_naming_the_option_and_with_it_imports(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "gbk"
    folder.mkdir()
    (folder / "customers.csv").write_bytes("customer_id,name\nC1,张三丰\n".encode("gbk"))
    (folder / "accounts.csv").write_text(
        "account_id,customer_id,currency,credit_limit\nA1,C1,CNY,100\n"
    )
    (folder / "statements.csv").write_text(
        "account_id,cycle_date,statement_balance,amount_paid,days_past_due\nA1,2025-01-31,1,0,0\n"
    )
    url = f"sqlite:///{tmp_path / 'store.db'}"
    home = tmp_path / "home"

    refused = _cli("import", str(folder), "--database", url, home=home)
    done = _cli("import", str(folder), "--database", url, "--encoding", "gbk", "--json", home=home)

    lines = refused.stderr.decode().strip().splitlines()
    assert refused.returncode == 2
    assert len(lines) == 1, lines
    assert "customers.csv: line 2" in lines[0]
    assert "--encoding gb18030" in lines[0]
    assert done.returncode == 0, done.stderr.decode()
    assert envelope_data(done.stdout)["customers"] == 1
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            blob = connection.execute(text("SELECT name_enc FROM customers")).scalar_one()
    finally:
        engine.dispose()
    settings = Settings(home=home)
    assert FieldCipher.from_settings(settings).decrypt(bytes(blob)) == "张三丰"


def test_crlf_and_a_byte_order_mark_in_every_generic_table_change_nothing(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "windows"
    folder.mkdir()
    tables = {
        "customers": "customer_id,birth_year\nC1,1980\nC2,1990\n",
        "accounts": "account_id,customer_id,currency,credit_limit\nA1,C1,CNY,100\nA2,C2,CNY,5\n",
        "statements": "account_id,cycle_date,statement_balance,amount_paid,days_past_due\n"
        "A1,2025-01-31,1,0,0\nA2,2025-01-31,2,0,0\n",
        "labels": 'account_id,label,observed_on,value\nA1,default_next_month,2025-02-28,"1"\n',
    }
    for name, body in tables.items():
        (folder / f"{name}.csv").write_bytes(b"\xef\xbb\xbf" + body.replace("\n", "\r\n").encode())

    result = import_portfolio(
        folder,
        layout="generic",
        database_url=f"sqlite:///{tmp_path / 'store.db'}",
        settings=Settings(home=tmp_path / "home"),
    )

    assert (result.customers, result.accounts, result.statements, result.labels) == (2, 2, 2, 1)
    assert result.rejected == 0


def test_the_published_uci_header_and_the_workbooks_two_header_lines_are_read_as_ours(
    tmp_path: Path,
) -> None:
    kaggle = tmp_path / "UCI_Credit_Card.csv"
    kaggle.write_text(KAGGLE + "\n" + ROW + "\n", encoding="utf-8")
    workbook = tmp_path / "default of credit card clients.csv"
    workbook.write_text(
        "," + ",".join(COLUMNS[1:]) + "\r\n" + KAGGLE.replace(".", " ") + "\r\n" + ROW + "\r\n",
        encoding="utf-8-sig",
    )

    for path in (kaggle, workbook):
        read = read_uci(path)
        assert read.accounts["credit_limit_minor"].to_list() == [2_000_000], path
        assert read.rejects.height == 0

    bad = tmp_path / "bad.csv"
    bad.write_text(KAGGLE + "\n" + ROW.replace("20000", "x", 1) + "\n", encoding="utf-8")
    rejects = read_uci(bad).rejects
    assert rejects.select("field", "reason").rows() == [("LIMIT_BAL", "not an amount")]
    assert PUBLISHED_NAMES["pay_0"] == "X6"


def test_a_uci_file_in_utf16_is_refused_with_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "utf16.csv"
    path.write_text(",".join(COLUMNS) + "\n" + ROW + "\n", encoding="utf-16")
    with pytest.raises(SourceError, match=r"UTF-16.*CSV UTF-8"):
        read_uci(path)


def test_a_failed_first_import_leaves_no_store_file_and_no_rejects_file(tmp_path: Path) -> None:
    folder = tmp_path / "late"
    folder.mkdir()
    (folder / "customers.csv").write_text("customer_id,name\nC1,x\n", encoding="utf-8")
    (folder / "accounts.csv").write_text(
        "account_id,customer_id,currency,credit_limit\nA1,C9,CNY,1\n"
    )
    # A bad row (rejects are written), then bytes that are not UTF-8 further down.
    (folder / "statements.csv").write_bytes(
        b"account_id,cycle_date,statement_balance,amount_paid,days_past_due\n"
        b"A1,2025-01-31,1,0,0\nA1,2025-02-28,\xff\xfe,0,0\n"
    )
    store = tmp_path / "new" / "store.db"
    rejects = tmp_path / "rejects.csv"

    with pytest.raises(SourceError, match=r"statements.csv: line 3 .*--encoding"):
        import_portfolio(
            folder,
            layout="generic",
            database_url=f"sqlite:///{store}",
            rejects_path=rejects,
            settings=Settings(home=tmp_path / "home"),
        )

    assert not store.exists()
    assert not rejects.exists()


def test_an_interrupted_run_is_marked_by_the_next_import_and_a_failed_one_says_why(
    tmp_path: Path,
) -> None:
    from cardpilot.store import import_runs
    from cardpilot.store.db import open_store

    url = f"sqlite:///{tmp_path / 'store.db'}"
    engine = open_store(url)
    try:
        gone = import_runs.start_run(engine, source="x", layout="uci")
        with engine.begin() as connection:  # a run of a process that no longer exists
            connection.execute(text("UPDATE import_runs SET pid = 2147483646"))
    finally:
        engine.dispose()
    source = tmp_path / "one.csv"
    source.write_text(",".join(COLUMNS) + "\n" + ROW + "\n", encoding="utf-8")

    result = import_portfolio(
        source, layout="uci", database_url=url, settings=Settings(home=tmp_path / "home")
    )

    assert result.interrupted_runs == [gone]
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT id, status FROM import_runs ORDER BY id")).all()
    finally:
        engine.dispose()
    assert [tuple(r) for r in rows] == [(gone, "interrupted"), (result.run_id, "finished")]


def test_plausibility_is_judged_against_the_import_date(tmp_path: Path) -> None:
    from cardpilot.ingest.plausibility import reject_implausible

    statements = pl.DataFrame(
        {
            "_row": [2, 3],
            "cycle_date": [dt.date(2026, 1, 31), dt.date(2026, 1, 31)],
            "due_date": [dt.date(2026, 2, 20), None],
            "repayment_status": pl.Series([None, 0], dtype=pl.Int16),
            "days_past_due": pl.Series([0, 0], dtype=pl.Int32),
        }
    )

    early, early_rejects = reject_implausible(
        "statements", statements, file="s.csv", today=dt.date(2026, 1, 15)
    )
    late, _ = reject_implausible("statements", statements, file="s.csv", today=dt.date(2026, 2, 1))

    assert early.height == 0
    assert set(early_rejects["reason"]) == {"cycle date after 2026-01-15"}
    assert late.height == 2
