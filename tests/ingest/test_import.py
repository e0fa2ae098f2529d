"""Importing into the store (SQLite and PostgreSQL): UCI, the generic layout, rejects, privacy."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import inspect, text

from cardpilot.cli.output import envelope_data
from cardpilot.config import Settings
from cardpilot.jobs.importing import import_portfolio
from cardpilot.privacy import FieldCipher
from cardpilot.store.db import make_engine
from cardpilot.store.frames import read_portfolio_frames

from .test_uci import UCI, write_damaged_uci

PHONE = "13912345678"
NATIONAL_ID = "110101199003077777"
EMAIL = "zhang.san.known@example.com"
NAME = "张三丰测试"


def _settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home")


def _count(url: str, table: str) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
    finally:
        engine.dispose()


def _rejects(path: str | None) -> pl.DataFrame:
    assert path is not None
    return pl.read_csv(path, infer_schema=False).with_columns(pl.col("row").cast(pl.Int64))


# -- the generic layout ------------------------------------------------------------------------

CUSTOMERS: dict[str, list[str | None]] = {
    "customer_id": ["C1", "C2"],
    "name": [NAME, None],
    "national_id": [NATIONAL_ID, None],
    "phone": [PHONE, None],
    "email": [EMAIL, None],
    "birth_year": ["1990", "1985"],
    "education": ["university", None],
    "sex": ["male", "female"],
    "marital_status": ["single", None],
    "annual_income": ["120000.50", None],
    "locale": ["zh-CN", None],
    "timezone": ["Asia/Shanghai", None],
}
ACCOUNTS: dict[str, list[str | None]] = {
    "account_id": ["A1", "A2"],
    "customer_id": ["C1", "C2"],
    "currency": ["CNY", "CNY"],
    "credit_limit": ["20000.00", "5000"],
    "open_date": ["2021-03-01", None],
    "status": ["active", None],
    "temp_limit": [None, "8000.10"],
    "temp_limit_expires_on": [None, "2025-12-31"],
}
STATEMENTS: dict[str, list[str | None]] = {
    "account_id": ["A1", "A1", "A2"],
    "cycle_date": ["2025-01-31", "2025-02-28", "2025-01-31"],
    "due_date": ["2025-02-20", "2025-03-20", None],
    "credit_limit": ["20000.00", "20000.00", None],
    "statement_balance": ["1234.56", "-10.05", "0"],
    "minimum_due": ["123.46", "0", None],
    "amount_paid": ["0.01", "1234.56", "0"],
    "purchases": ["1234.56", None, None],
    "cash_advances": ["0", None, None],
    "repayment_status": ["0", "1", None],
    "days_past_due": ["0", "30", "0"],
}
TRANSACTIONS: dict[str, list[str | None]] = {
    "transaction_id": ["T1", "T2"],
    "account_id": ["A1", "A2"],
    "posted_at": ["2025-01-15T10:30:00+08:00", "2025-01-16T00:00:00Z"],
    "kind": ["purchase", "payment"],
    "amount": ["99.90", "100"],
    "currency": ["CNY", None],
    "merchant_category": ["5411", None],
}
LABELS: dict[str, list[str | None]] = {
    "account_id": ["A1", "A2"],
    "label": ["default_next_month", "default_next_month"],
    "observed_on": ["2025-03-31", "2025-03-31"],
    "value": ["1", "0"],
}
TABLES: dict[str, dict[str, list[str | None]]] = {
    "customers": CUSTOMERS,
    "accounts": ACCOUNTS,
    "statements": STATEMENTS,
    "transactions": TRANSACTIONS,
    "labels": LABELS,
}
DATES = {"open_date", "temp_limit_expires_on", "cycle_date", "due_date", "observed_on"}
MONEY = {
    "annual_income",
    "credit_limit",
    "temp_limit",
    "statement_balance",
    "minimum_due",
    "amount_paid",
    "purchases",
    "cash_advances",
    "amount",
}


def write_portfolio(folder: Path, fmt: str) -> Path:
    """The small portfolio above as CSV files, or as Parquet parts with decimal(18,2) money."""
    folder.mkdir(parents=True)
    for table, columns in TABLES.items():
        frame = pl.DataFrame(columns, schema=dict.fromkeys(columns, pl.Utf8))
        if fmt == "csv":
            frame.write_csv(folder / f"{table}.csv")
            continue
        casts = []
        for name in columns:
            if name in MONEY:
                casts.append(pl.col(name).cast(pl.Decimal(18, 2)))
            elif name in ("birth_year",):
                casts.append(pl.col(name).cast(pl.Int16))
            elif name in ("days_past_due",):
                casts.append(pl.col(name).cast(pl.Int32))
            elif name == "repayment_status":
                casts.append(pl.col(name).cast(pl.Int16))
            elif (
                name in ("open_date", "temp_limit_expires_on", "cycle_date", "due_date")
                or name == "observed_on"
            ):
                casts.append(pl.col(name).str.to_date())
            elif name == "value":
                casts.append(pl.col(name) == "1")
            elif name == "posted_at":
                casts.append(
                    pl.col(name)
                    .str.replace("Z$", "+00:00")
                    .str.to_datetime("%Y-%m-%dT%H:%M:%S%:z", time_zone="UTC")
                )
            else:
                casts.append(pl.col(name))
        parts = folder / table
        parts.mkdir()
        typed = frame.select(casts)
        # two parts, so reading a folder of parts is exercised
        half = max(1, typed.height // 2)
        typed.slice(0, half).write_parquet(parts / "part-00000.parquet")
        if typed.height > half:
            typed.slice(half).write_parquet(parts / "part-00001.parquet")
    return folder


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_generic_portfolio_round_trips_exactly(store_url: str, tmp_path: Path, fmt: str) -> None:
    source = write_portfolio(tmp_path / "portfolio", fmt)
    settings = _settings(tmp_path)

    first = import_portfolio(source, layout="generic", database_url=store_url, settings=settings)
    again = import_portfolio(source, layout="generic", database_url=store_url, settings=settings)

    assert (first.customers, first.accounts, first.statements) == (2, 2, 3)
    assert (first.transactions, first.labels, first.rejected) == (2, 2, 0)
    assert first.rejects_file is None
    assert (again.customers, again.accounts, again.statements, again.transactions) == (0, 0, 0, 0)
    assert again.labels == 0
    assert _count(store_url, "import_runs") == 2

    engine = make_engine(store_url)
    try:
        frames = read_portfolio_frames(engine)
        statements = frames.statements
        assert statements["statement_balance_minor"].to_list() == [123456, -1005, 0]
        assert statements["amount_paid_minor"].to_list() == [1, 123456, 0]
        assert statements["minimum_due_minor"].to_list() == [12346, 0, None]
        assert statements["days_past_due"].to_list() == [0, 30, 0]
        assert statements["cycle_date"][1] == dt.date(2025, 2, 28)
        accounts = frames.accounts
        assert accounts["credit_limit_minor"].to_list() == [2_000_000, 500_000]
        assert accounts["status"].to_list() == ["active", "active"]
        assert frames.customers["annual_income_minor"].to_list() == [12_000_050, None]
        assert frames.labels["value"].to_list() == [True, False]
        with engine.connect() as connection:
            txn = connection.execute(
                text("SELECT amount_minor, currency FROM transactions ORDER BY transaction_id")
            ).all()
            assert [tuple(r) for r in txn] == [(9990, "CNY"), (10000, settings.currency)]
            temp = connection.execute(
                text("SELECT temp_limit_minor FROM accounts WHERE account_id = 'A2'")
            ).scalar_one()
            assert temp == 800_010
            blob = connection.execute(
                text("SELECT phone_enc, pii_key_id FROM customers WHERE customer_id = 'C1'")
            ).one()
        cipher = FieldCipher.from_settings(settings)
        assert cipher.decrypt(bytes(blob[0])) == PHONE
        assert blob[1] == cipher.active_key_id
    finally:
        engine.dispose()


def test_damaged_generic_portfolio_loads_good_rows_and_rejects_bad_ones(
    store_url: str, tmp_path: Path
) -> None:
    folder = tmp_path / "damaged"
    folder.mkdir()
    (folder / "customers.csv").write_text(
        "customer_id,name,annual_income\n"
        "C1,,1000\n"  # line 2: good
        "C2,,12.345\n"  # 3: more than 2 decimals → C2 rejected
        "C1,,5\n"  # 4: duplicate id
        "C3,,abc\n",  # 5: malformed number
        encoding="utf-8",
    )
    (folder / "accounts.csv").write_text(
        "account_id,customer_id,currency,credit_limit\n"
        "A1,C1,CNY,1000\n"  # 2: good
        "A2,C2,CNY,1000\n"  # 3: its customer was rejected
        "A3,C1,CNY,-5\n"  # 4: negative limit
        "A4,C9,CNY,10\n"  # 5: unknown customer
        "A5,C1,CNY\n"  # 6: short row
        "A6,C1,,10\n",  # 7: missing required value
        encoding="utf-8",
    )
    (folder / "statements.csv").write_text(
        "account_id,cycle_date,statement_balance,amount_paid,days_past_due,repayment_status\n"
        "A1,2025-01-31,10,0,0,0\n"  # 2: good
        "A1,2025-02-30,10,0,0,0\n"  # 3: not a date
        "A2,2025-01-31,10,0,0,0\n"  # 4: statement of a rejected account
        "A1,2025-01-31,11,0,0,0\n"  # 5: duplicate key
        "A1,2025-03-31,10,0,0,12\n",  # 6: out-of-range code
        encoding="utf-8",
    )
    rejects_path = tmp_path / "out" / "rejects.csv"

    result = import_portfolio(
        folder,
        layout="generic",
        database_url=store_url,
        rejects_path=rejects_path,
        settings=_settings(tmp_path),
    )

    assert (result.customers, result.accounts, result.statements) == (1, 1, 1)
    assert result.rejected == 12
    assert result.rejects_file == str(rejects_path)
    rejects = _rejects(result.rejects_file)
    expected = {
        ("customers.csv", 3): ("annual_income", "more than 2 decimal places"),
        ("customers.csv", 4): ("customer_id", "duplicate"),
        ("customers.csv", 5): ("annual_income", "not an amount"),
        ("accounts.csv", 3): ("customer_id", "was rejected (damaged/customers.csv row 3)"),
        ("accounts.csv", 4): ("credit_limit", "negative"),
        ("accounts.csv", 5): ("customer_id", "unknown customer_id"),
        ("accounts.csv", 6): ("credit_limit", "short row"),
        ("accounts.csv", 7): ("currency", "missing required value"),
        ("statements.csv", 3): ("cycle_date", "not a date"),
        ("statements.csv", 4): ("account_id", "was rejected (damaged/accounts.csv row 3)"),
        ("statements.csv", 5): ("cycle_date", "duplicate account_id/cycle_date"),
        ("statements.csv", 6): ("repayment_status", "code out of range"),
    }
    for (name, row), (field, reason) in expected.items():
        hits = rejects.filter(pl.col("file").str.ends_with(name) & (pl.col("row") == row))
        assert hits.height == 1, f"{name} row {row}: {hits}"
        assert hits["field"][0] == field
        assert reason in hits["reason"][0], f"{name} row {row}: {hits['reason'][0]}"

    again = import_portfolio(
        folder, layout="generic", database_url=store_url, settings=_settings(tmp_path)
    )
    assert (again.customers, again.accounts, again.statements) == (0, 0, 0)
    assert again.rejected == result.rejected


# -- UCI -----------------------------------------------------------------------------------------


def test_damaged_uci_import_loads_good_rows_and_writes_rejects_file(
    store_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "damaged.csv"
    bad = write_damaged_uci(path)

    result = import_portfolio(
        path, layout="uci", database_url=store_url, settings=_settings(tmp_path)
    )

    assert (result.accounts, result.statements, result.labels) == (3, 18, 3)
    assert result.rejected == len(bad)
    assert result.rejects_file is not None
    assert Path(result.rejects_file).parent == tmp_path / "home" / "rejects"
    rejects = _rejects(result.rejects_file)
    assert set(rejects["row"].to_list()) == set(bad)
    assert set(rejects.columns) == {"file", "row", "field", "value", "reason"}
    assert _count(store_url, "statements") == 18


@pytest.mark.realdata
@pytest.mark.slow
def test_uci_import_adds_30000_accounts_once(store_url: str, tmp_path: Path) -> None:
    if not UCI.exists():
        pytest.skip(f"real data absent: {UCI} (see ../shared/data/README.md)")
    settings = _settings(tmp_path)

    first = import_portfolio(UCI, layout="uci", database_url=store_url, settings=settings)
    second = import_portfolio(UCI, layout="uci", database_url=store_url, settings=settings)

    assert (first.customers, first.accounts, first.statements, first.labels) == (
        30_000,
        30_000,
        180_000,
        30_000,
    )
    assert first.rejected == 0
    assert (second.customers, second.accounts, second.statements, second.labels) == (0, 0, 0, 0)
    assert _count(store_url, "statements") == 180_000


# -- privacy -------------------------------------------------------------------------------------


def test_no_personal_data_in_plain_text_anywhere_in_the_store(
    store_url: str, tmp_path: Path
) -> None:
    source = write_portfolio(tmp_path / "portfolio", "csv")
    import_portfolio(source, layout="generic", database_url=store_url, settings=_settings(tmp_path))
    secrets = [PHONE, NATIONAL_ID, EMAIL, NAME]

    engine = make_engine(store_url)
    try:
        with engine.connect() as connection:
            dump: list[str] = []
            for table in inspect(engine).get_table_names():
                rows = connection.execute(text(f"SELECT * FROM {table}")).all()
                dump.extend(repr(tuple(r)) for r in rows)
                dump.extend(
                    bytes(v).decode("latin-1") for r in rows for v in r if isinstance(v, bytes)
                )
        text_dump = "\n".join(dump)
        assert "C1" in text_dump  # the dump did see the customer
        for secret in secrets:
            assert secret not in text_dump
    finally:
        engine.dispose()

    if store_url.startswith("sqlite"):
        db_file = Path(store_url.removeprefix("sqlite:///"))
        raw = b"".join(
            p.read_bytes() for p in db_file.parent.iterdir() if p.name.startswith(db_file.name)
        )
        assert b"C1" in raw
        for secret in secrets:
            assert secret.encode("utf-8") not in raw


# -- the command ---------------------------------------------------------------------------------


def test_import_command_prints_what_it_added_as_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from cardpilot.cli import app

    monkeypatch.setenv("CARDPILOT_HOME", str(tmp_path / "home"))
    source = write_portfolio(tmp_path / "portfolio", "csv")
    url = f"sqlite:///{tmp_path / 'cli.db'}"

    result = CliRunner().invoke(app, ["import", str(source), "--database", url, "--json"])

    assert result.exit_code == 0, result.output
    payload = envelope_data(result.stdout)
    assert payload["accounts"] == 2
    assert payload["statements"] == 3
    assert payload["rejected"] == 0
    assert "rejects_file" in payload
    assert Decimal(str(payload["seconds"])) >= 0


def test_duplicate_in_a_later_parquet_part_is_rejected_naming_the_first(
    store_url: str, tmp_path: Path
) -> None:
    source = write_portfolio(tmp_path / "portfolio", "parquet")
    first_part = pl.read_parquet(source / "statements" / "part-00000.parquet")
    pl.concat([first_part.head(1), first_part.head(1)]).write_parquet(
        source / "statements" / "part-00002.parquet"
    )

    result = import_portfolio(
        source, layout="generic", database_url=store_url, settings=_settings(tmp_path)
    )

    assert result.statements == 3
    assert result.rejected == 2
    rejects = _rejects(result.rejects_file)
    assert rejects["row"].to_list() == [1, 2]
    assert all("part-00002.parquet" in f for f in rejects["file"].to_list())
    reasons = rejects["reason"].to_list()
    assert "first at portfolio/statements/part-00000.parquet row 1" in reasons[0]
    assert "duplicate account_id/cycle_date (first at row 1)" in reasons[1]


def test_bulk_load_leaves_foreign_keys_in_force(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.exc import IntegrityError

    from cardpilot.store import loading as loader

    # The bulk path (PostgreSQL) normally starts at 100,000 rows; take it for this small file.
    monkeypatch.setattr(loader, "BULK_MIN_ROWS", 1)
    source = write_portfolio(tmp_path / "portfolio", "csv")

    result = import_portfolio(
        source, layout="generic", database_url=store_url, settings=_settings(tmp_path)
    )

    assert result.statements == 3
    engine = make_engine(store_url)
    try:
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO statements (account_id, cycle_date, statement_balance_minor,"
                    " amount_paid_minor, days_past_due) VALUES ('nope', '2025-01-31', 0, 0, 0)"
                )
            )
    finally:
        engine.dispose()


def test_rejects_file_never_shows_a_personal_value(store_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "pii"
    folder.mkdir()
    too_long_phone = PHONE * 4  # longer than the 40 characters a phone may have
    (folder / "customers.csv").write_text(
        f"customer_id,phone\nC1,{too_long_phone}\n", encoding="utf-8"
    )
    (folder / "accounts.csv").write_text("account_id,customer_id,currency,credit_limit\n")
    (folder / "statements.csv").write_text(
        "account_id,cycle_date,statement_balance,amount_paid,days_past_due\n"
    )

    result = import_portfolio(
        folder, layout="generic", database_url=store_url, settings=_settings(tmp_path)
    )

    assert result.rejected == 1
    assert result.rejects_file is not None
    written = Path(result.rejects_file).read_text(encoding="utf-8")
    assert "phone" in written
    assert "<redacted>" in written
    assert PHONE not in written


def test_db_upgrade_command_reports_the_revision(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from cardpilot.cli import app
    from cardpilot.store.db import head_revision

    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    result = CliRunner().invoke(app, ["db", "upgrade", "--database", url, "--json"])

    assert result.exit_code == 0, result.output
    assert envelope_data(result.stdout) == {"revision": head_revision()}


@pytest.mark.parametrize("order", [["A1", "A2", "A2", "A3"], ["A2", "A3", "A1", "A2"]])
def test_statement_of_an_unknown_account_is_rejected_in_sorted_and_unsorted_files(
    store_url: str, tmp_path: Path, order: list[str]
) -> None:
    # Every account loads, so only the statements' own check can catch A1; a file in account
    # order takes the distinct-ids-by-change path, including for its very first row.
    folder = tmp_path / "portfolio"
    folder.mkdir()
    (folder / "customers.csv").write_text("customer_id\nC1\n", encoding="utf-8")
    (folder / "accounts.csv").write_text(
        "account_id,customer_id,currency,credit_limit\nA2,C1,CNY,1000\nA3,C1,CNY,1000\n",
        encoding="utf-8",
    )
    cycles = iter(["2025-01-31", "2025-02-28", "2025-03-31", "2025-04-30"])
    rows = "".join(f"{a},{next(cycles)},10,0,0,0\n" for a in order)
    (folder / "statements.csv").write_text(
        "account_id,cycle_date,statement_balance,amount_paid,days_past_due,repayment_status\n"
        + rows,
        encoding="utf-8",
    )

    result = import_portfolio(
        folder, layout="generic", database_url=store_url, settings=_settings(tmp_path)
    )

    assert (result.accounts, result.statements, result.rejected) == (2, 3, 1)
    rejects = _rejects(result.rejects_file)
    assert rejects.select("file", "row", "field").rows() == [
        ("portfolio/statements.csv", order.index("A1") + 2, "account_id")
    ]
    assert "unknown account_id" in rejects["reason"][0]
