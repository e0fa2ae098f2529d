"""A first import into an empty store: one bulk load of every table, encryption in workers."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from cardpilot.config import Settings
from cardpilot.ingest.generic import key_bounds
from cardpilot.jobs import importing
from cardpilot.jobs.importing import import_portfolio
from cardpilot.privacy import FieldCipher
from cardpilot.store import loading as loader_module
from cardpilot.store.arrow_loading import ArrowStoreLoader
from cardpilot.store.db import make_engine, open_store

from .test_import import EMAIL, NAME, NATIONAL_ID, PHONE, write_portfolio
from .test_loader import _count, _shape

TABLES = ("customers", "accounts", "statements", "performance_labels", "limit_history")


@pytest.fixture
def large(monkeypatch: pytest.MonkeyPatch) -> None:
    """Treat the small test portfolio as large: the fresh path and the encryption workers."""
    monkeypatch.setattr(loader_module, "BULK_MIN_ROWS", 1)
    monkeypatch.setattr(importing, "ENCRYPT_IN_WORKERS_MIN_ROWS", 1)


def _journal_mode(url: str) -> str:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return str(connection.exec_driver_sql("PRAGMA journal_mode").scalar_one())
    finally:
        engine.dispose()


@pytest.mark.usefixtures("large")
def test_fresh_load_with_encryption_workers_round_trips(store_url: str, tmp_path: Path) -> None:
    source = write_portfolio(tmp_path / "portfolio", "parquet")
    settings = Settings(home=tmp_path / "home")
    before = _shape(store_url)

    first = import_portfolio(source, layout="generic", database_url=store_url, settings=settings)
    again = import_portfolio(source, layout="generic", database_url=store_url, settings=settings)

    assert "finish_fresh" in first.stages  # the whole first import was one bulk load
    assert "finish_fresh" not in again.stages  # the store held rows: the ordinary path
    assert (first.customers, first.accounts, first.statements, first.labels) == (2, 2, 3, 2)
    assert (first.transactions, first.limit_history, first.rejected) == (2, 1, 0)
    assert (again.customers, again.accounts, again.statements, again.labels) == (0, 0, 0, 0)
    assert again.limit_history == 0
    assert _shape(store_url) == before
    cipher = FieldCipher.from_settings(settings)
    engine = make_engine(store_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT customer_id, name_enc, national_id_enc, phone_enc, email_enc,"
                    " national_id_hmac, pii_key_id, locale FROM customers ORDER BY customer_id"
                )
            ).all()
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO accounts (account_id, customer_id, currency,"
                    " credit_limit_minor, status) VALUES ('A9', 'nope', 'CNY', 0, 'active')"
                )
            )
    finally:
        engine.dispose()
    (c1, name, national_id, phone, email, blind, key_id, locale), c2 = rows
    assert (c1, locale) == ("C1", "zh-CN")
    plain = [cipher.decrypt(bytes(v)) for v in (name, national_id, phone, email)]
    assert plain == [NAME, NATIONAL_ID, PHONE, EMAIL]
    assert bytes(blind) == cipher.blind_index(NATIONAL_ID)
    assert key_id == cipher.active_key_id
    assert c2[0] == "C2"
    assert all(v is None for v in c2[1:7])
    if store_url.startswith("sqlite"):
        assert _journal_mode(store_url) == "wal"
        db_file = Path(store_url.removeprefix("sqlite:///"))
        raw = b"".join(p.read_bytes() for p in db_file.parent.iterdir() if p.is_file())
        for secret in (PHONE, NATIONAL_ID, EMAIL, NAME):
            assert secret.encode("utf-8") not in raw


def _statements(account: str) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "account_id": [account, account],
            "cycle_date": [dt.date(2025, 1, 31), dt.date(2025, 2, 28)],
            "statement_balance_minor": [0, 0],
            "amount_paid_minor": [0, 0],
            "days_past_due": [0, 0],
        }
    )


def _account(account_id: str, customer_id: str) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "account_id": [account_id],
            "customer_id": [customer_id],
            "currency": ["CNY"],
            "credit_limit_minor": [100],
            "open_date": [dt.date(2024, 1, 1)],
            "status": ["active"],
        }
    )


def test_fresh_load_with_an_orphan_leaves_the_store_as_it_was(store_url: str) -> None:
    open_store(store_url).dispose()
    before = _shape(store_url)
    customers = pl.DataFrame({"customer_id": ["C1"]})
    accounts = _account("A1", "C1")

    def load() -> None:
        with ArrowStoreLoader(store_url) as loader:
            assert loader.begin_fresh({"customers": 1, "accounts": 1, "statements": 2})
            # Children before parents is allowed in a fresh load; an orphan is not.
            loader.load("statements", _statements("A1"))
            loader.load("statements", _statements("nope"))
            loader.load("accounts", accounts)
            loader.load("customers", customers)
            loader.open_limit_history(1)
            loader.finish_fresh()

    with pytest.raises(Exception, match=r"(?i)foreign key"):
        load()
    for table in TABLES:
        assert _count(store_url, table) == 0, table
    assert _shape(store_url) == before
    if store_url.startswith("sqlite"):
        assert _journal_mode(store_url) == "wal"


@pytest.mark.postgres
def test_keys_loaded_in_their_order_are_checked_by_merge_joins_and_others_by_hashing(
    postgres_store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL only: SQLite checks foreign keys itself (``_check_sqlite_keys``)."""
    from cardpilot.store import bulk

    store_url = postgres_store_url
    issued: list[str] = []
    execute = bulk.execute

    def recording(connection: object, sql: str, parameters: object = None) -> int:
        issued.append(sql)
        return execute(connection, sql, parameters)  # type: ignore[arg-type]

    monkeypatch.setattr(bulk, "execute", recording)
    open_store(store_url).dispose()
    with ArrowStoreLoader(store_url) as loader:
        assert loader.begin_fresh({"customers": 1, "accounts": 1, "statements": 2})
        loader.load("customers", pl.DataFrame({"customer_id": ["C1"]}))
        loader.load("accounts", _account("A1", "C1"))
        loader.load("statements", _statements("A1"))
        loader.open_limit_history(1)
        loader.finish_fresh()
    checks = [
        (sql, issued[i - 1], issued[i + 1])
        for i, sql in enumerate(issued)
        if "VALIDATE CONSTRAINT" in sql
    ]
    merged = {sql.split()[2] for sql, before, _ in checks if "enable_hashjoin = off" in before}
    assert merged == {"statements", "limit_history"}
    for sql, _, after in checks:
        if sql.split()[2] in merged:
            assert after == "SET LOCAL enable_hashjoin = on", sql
    assert [_count(store_url, t) for t in TABLES] == [1, 1, 2, 0, 1]


def test_fresh_load_in_any_table_order_commits_once(store_url: str) -> None:
    open_store(store_url).dispose()
    loader = ArrowStoreLoader(store_url)
    with loader:
        assert loader.begin_fresh({"customers": 1, "accounts": 1, "statements": 2})
        loader.load("statements", _statements("A1"))
        loader.load("accounts", _account("A1", "C1"))
        loader.load("customers", pl.DataFrame({"customer_id": ["C1"]}))
        assert loader.open_limit_history(1) == 1
    assert [_count(store_url, t) for t in TABLES] == [1, 1, 2, 0, 1]


def test_fresh_load_is_refused_when_the_store_holds_rows(store_url: str) -> None:
    engine = open_store(store_url)
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO customers (customer_id) VALUES ('C0')"))
    engine.dispose()
    with ArrowStoreLoader(store_url) as loader:
        assert not loader.begin_fresh({"customers": 1, "accounts": 1})
        assert not loader.fresh
    assert _count(store_url, "customers") == 1


def test_a_sorted_later_part_repeating_the_last_key_is_rejected(
    store_url: str, tmp_path: Path
) -> None:
    source = write_portfolio(tmp_path / "portfolio", "parquet")
    last = pl.read_parquet(source / "statements" / "part-00001.parquet").tail(1)
    last.write_parquet(source / "statements" / "part-00002.parquet")

    result = import_portfolio(
        source,
        layout="generic",
        database_url=store_url,
        settings=Settings(home=tmp_path / "home"),
    )

    assert (result.statements, result.rejected) == (3, 1)
    assert result.rejects_file is not None
    reason = pl.read_csv(result.rejects_file, infer_schema=False)["reason"][0]
    assert "first at portfolio/statements/part-00001.parquet row 2" in reason


def test_key_bounds_only_for_strictly_increasing_keys() -> None:
    key = ["a", "d"]
    jan, feb = dt.date(2025, 1, 31), dt.date(2025, 2, 28)
    rising = pl.DataFrame({"a": ["A1", "A1", "A2"], "d": [jan, feb, jan]})
    assert key_bounds(rising, key) == (("A1", jan), ("A2", jan))
    repeated = pl.DataFrame({"a": ["A1", "A1"], "d": [jan, jan]})
    assert key_bounds(repeated, key) is None
    falling = pl.DataFrame({"a": ["A1", "A1"], "d": [feb, jan]})
    assert key_bounds(falling, key) is None
    with_null = pl.DataFrame({"a": ["A1", None], "d": [jan, feb]})
    assert key_bounds(with_null, key) is None
    assert key_bounds(rising.head(1), key) == (("A1", jan), ("A1", jan))


_KILLED_MID_LOAD = """
import os, signal, sys
import datetime as dt
import polars as pl
from cardpilot.store.arrow_loading import ArrowStoreLoader
from cardpilot.store import bulk

loader = ArrowStoreLoader(sys.argv[1])
loader.__enter__()
if loader.backend == "sqlite":  # a tiny page cache: rows spill into the file before the kill
    bulk.execute(loader._conn, "PRAGMA cache_size=16")
assert loader.begin_fresh({"customers": 1, "accounts": 1, "statements": 2})
loader.load("customers", pl.DataFrame({"customer_id": ["C1"]}))
loader.load(
    "statements",
    pl.DataFrame({
        "account_id": ["A1"] * 50_000,
        "cycle_date": pl.date_range(dt.date(1900, 1, 1), dt.date(2036, 11, 22), eager=True),
        "statement_balance_minor": [0] * 50_000,
        "amount_paid_minor": [0] * 50_000,
        "days_past_due": [0] * 50_000,
    }),
)
os.kill(os.getpid(), signal.SIGKILL)  # killed before finish_fresh: nothing may remain
"""


def test_an_import_killed_mid_load_leaves_the_store_empty_and_whole(
    store_url: str, tmp_path: Path
) -> None:
    import subprocess
    import sys

    open_store(store_url).dispose()
    before = _shape(store_url)
    script = tmp_path / "killed.py"
    script.write_text(_KILLED_MID_LOAD)
    done = subprocess.run([sys.executable, str(script), store_url], check=False, timeout=120)
    assert done.returncode == -9
    if store_url.startswith("sqlite"):  # killed inside the transaction: a hot rollback journal
        assert Path(store_url.removeprefix("sqlite:///") + "-journal").exists()

    for table in TABLES:
        assert _count(store_url, table) == 0, table
    assert _shape(store_url) == before
    if store_url.startswith("sqlite"):
        assert _journal_mode(store_url) == "wal"
        engine = make_engine(store_url)
        try:
            with engine.connect() as connection:
                check = connection.exec_driver_sql("PRAGMA integrity_check").scalar_one()
                assert check == "ok"
        finally:
            engine.dispose()
