"""Bulk loading: indexes and keys come back after a first load, a failed one leaves no trace."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import IntegrityError

from cardpilot.config import Settings
from cardpilot.jobs.importing import import_portfolio
from cardpilot.privacy import FieldCipher
from cardpilot.privacy.cipher import KeyRing
from cardpilot.store import loading as loader_module
from cardpilot.store.arrow_loading import ArrowStoreLoader
from cardpilot.store.db import open_store
from cardpilot.store.loading import StoreLoader

from .test_import import write_portfolio


def _shape(url: str) -> dict[str, tuple[list[str], list[str], list[str]]]:
    """Per table: its secondary index names, foreign key targets and primary key columns."""
    engine = open_store(url)
    try:
        inspector = inspect(engine)
        return {
            table: (
                sorted(str(i["name"]) for i in inspector.get_indexes(table)),
                sorted(str(f["referred_table"]) for f in inspector.get_foreign_keys(table)),
                list(inspector.get_pk_constraint(table)["constrained_columns"]),
            )
            for table in ("customers", "accounts", "statements", "performance_labels")
        }
    finally:
        engine.dispose()


def _count(url: str, table: str) -> int:
    engine = open_store(url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
    finally:
        engine.dispose()


def test_bulk_first_load_then_rerun_keeps_indexes_keys_and_adds_nothing_twice(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loader_module, "BULK_MIN_ROWS", 1)  # take the bulk path for small files
    source = write_portfolio(tmp_path / "portfolio", "parquet")
    settings = Settings(home=tmp_path / "home")
    before = _shape(store_url)

    first = import_portfolio(source, layout="generic", database_url=store_url, settings=settings)
    again = import_portfolio(source, layout="generic", database_url=store_url, settings=settings)

    assert (first.customers, first.accounts, first.statements, first.labels) == (2, 2, 3, 2)
    assert (again.customers, again.accounts, again.statements, again.labels) == (0, 0, 0, 0)
    assert _count(store_url, "statements") == 3
    assert _shape(store_url) == before
    # The review's covering index is SQLite's only (migration 0012), and the load keeps it.
    assert ("ix_statements_review" in before["statements"][0]) == store_url.startswith("sqlite")


def _bulk_load(engine: Engine, frame: pl.DataFrame, kind: str = "sqlalchemy") -> None:
    loader: StoreLoader | ArrowStoreLoader
    if kind == "sqlalchemy":
        loader = StoreLoader(engine)
    else:
        engine.dispose()  # one SQLite library at a time on a file (store/db.py)
        loader = ArrowStoreLoader(engine.url.render_as_string(hide_password=False))
    try:
        with loader:
            assert loader.begin_bulk("statements", frame.height)
            loader.load("statements", frame)
            loader.end_bulk("statements")
    except Exception as exc:  # the driver's own error class, named as SQLAlchemy would
        raise IntegrityError("bulk load", {}, exc) from exc


@pytest.mark.parametrize("kind", ["sqlalchemy", "adbc"])
@pytest.mark.parametrize("fault", ["orphan", "duplicate"])
def test_failed_bulk_load_rolls_back_rows_and_keeps_indexes(
    store_url: str, monkeypatch: pytest.MonkeyPatch, fault: str, kind: str
) -> None:
    monkeypatch.setattr(loader_module, "BULK_MIN_ROWS", 1)
    if kind == "sqlalchemy" and not store_url.startswith("sqlite"):
        pytest.skip("the SQLAlchemy loader serves in-memory SQLite stores only")
    before = _shape(store_url)
    engine = open_store(store_url)
    if fault == "duplicate":
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO customers (customer_id) VALUES ('C1')"))
            connection.execute(
                text(
                    "INSERT INTO accounts (account_id, customer_id, currency, credit_limit_minor,"
                    " status) VALUES ('A1', 'C1', 'CNY', 0, 'active')"
                )
            )
    # A statement whose account does not exist (refused by the foreign key, checked per row
    # on SQLite, when the key is re-added on PostgreSQL), or one key twice (refused by the
    # primary key, per row on SQLite, when it is rebuilt on PostgreSQL).
    account = "nope" if fault == "orphan" else "A1"
    frame = pl.DataFrame(
        {
            "account_id": [account, account],
            "cycle_date": [
                dt.date(2025, 1, 31),
                dt.date(2025, 1, 31 if fault == "duplicate" else 30),
            ],
            "statement_balance_minor": [0, 0],
            "amount_paid_minor": [0, 0],
            "days_past_due": [0, 0],
        }
    )
    try:
        if fault == "duplicate" and engine.dialect.name == "sqlite" and kind == "sqlalchemy":
            # SQLite keeps its primary key through a bulk load: the repeat is skipped.
            _bulk_load(engine, frame, kind)
            assert _count(store_url, "statements") == 1
            assert _shape(store_url) == before
            return
        # ADBC appends a first load straight into the table: a repeat fails the whole load.
        with pytest.raises(IntegrityError):
            _bulk_load(engine, frame, kind)
    finally:
        engine.dispose()
    assert _count(store_url, "statements") == 0
    assert _shape(store_url) == before


def test_encrypt_many_matches_encrypt() -> None:
    cipher = FieldCipher(KeyRing.generate("k9"))
    values = ["张三", None, "", "13912345678", "a" * 300]
    blobs = cipher.encrypt_many(iter(values))
    assert [b is None for b in blobs] == [not v for v in values]
    assert cipher.decrypt_many(blobs) == [v or None for v in values]
    made = [b for b in blobs if b is not None]
    assert all(b.startswith(b"v1:k9:") for b in made)
    assert len({b[6:18] for b in made}) == len(made)  # a fresh nonce per value
    single = cipher.encrypt("张三")
    assert single is not None
    assert len(single) == len(made[0])


def test_each_new_account_starts_its_limit_history_once(store_url: str, tmp_path: Path) -> None:
    source = write_portfolio(tmp_path / "portfolio", "parquet")
    settings = Settings(home=tmp_path / "home")

    first = import_portfolio(source, layout="generic", database_url=store_url, settings=settings)
    again = import_portfolio(source, layout="generic", database_url=store_url, settings=settings)

    engine = open_store(store_url)
    try:
        with engine.connect() as connection:
            history = connection.execute(
                text(
                    "SELECT h.account_id, h.old_limit_minor, h.new_limit_minor, h.source, h.note,"
                    " a.credit_limit_minor, a.open_date, h.effective_at"
                    " FROM limit_history h JOIN accounts a ON a.account_id = h.account_id"
                )
            ).all()
            dated = connection.execute(
                text("SELECT count(*) FROM accounts WHERE open_date IS NOT NULL")
            ).scalar_one()
    finally:
        engine.dispose()
    assert (first.limit_history, again.limit_history) == (dated, 0)
    assert len(history) == dated > 0
    for account, old, new, source_, note, limit, opened, effective in history:
        assert (old, new, source_, note) == (None, limit, "import", "opening limit at import")
        when = (
            effective
            if isinstance(effective, dt.datetime)
            else dt.datetime.fromisoformat(str(effective))
        )
        assert when.date() == (
            opened if isinstance(opened, dt.date) else dt.date.fromisoformat(opened)
        ), account
