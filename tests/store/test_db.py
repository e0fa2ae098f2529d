"""The store's schema: migrations on both back ends, pragmas, and the model they build."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from cardpilot.store.db import (
    SQLITE_CACHE_KIB,
    SQLITE_WAL_CHECKPOINT_PAGES,
    current_revision,
    head_revision,
    make_engine,
    upgrade,
)
from cardpilot.store.models import Base, built_on, import_all_models

PORTFOLIO_TABLES = {
    "customers",
    "accounts",
    "statements",
    "transactions",
    "limit_history",
    "performance_labels",
    "ledger_postings",
    "import_runs",
}


def _portfolio_tables(dialect: str) -> Callable[..., bool]:
    """The objects of ``cardpilot.store.models`` built on ``dialect`` (other parts check theirs)."""
    built = built_on(dialect)

    def include(obj: object, name: str | None, type_: str, reflected: bool, *rest: object) -> bool:
        if type_ == "table":
            return name in PORTFOLIO_TABLES
        if not built(obj, name, type_, reflected, *rest):
            return False
        table = getattr(obj, "table", None)
        return table is None or table.name in PORTFOLIO_TABLES

    return include


def test_upgrade_builds_exactly_the_portfolio_models_and_is_idempotent(store_url: str) -> None:
    import_all_models()
    upgrade(store_url)
    upgrade(store_url)

    engine = make_engine(store_url)
    try:
        assert current_revision(engine) == head_revision()
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"include_object": _portfolio_tables(engine.dialect.name)}
            )
            assert compare_metadata(context, Base.metadata) == []
        tables = set(inspect(engine).get_table_names())
        assert {"customers", "accounts", "statements", "import_runs"} <= tables
    finally:
        engine.dispose()


def test_sqlite_store_runs_in_wal_mode_with_foreign_keys_on(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/nested/folder/store.db"
    upgrade(url)
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
    finally:
        engine.dispose()


def test_sqlite_connections_keep_a_large_page_cache_and_a_long_log(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/store.db"
    upgrade(url)
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            cache = connection.execute(text("PRAGMA cache_size")).scalar()
            assert cache == -SQLITE_CACHE_KIB
            pages = connection.execute(text("PRAGMA wal_autocheckpoint")).scalar()
            assert pages == SQLITE_WAL_CHECKPOINT_PAGES
    finally:
        engine.dispose()


def test_foreign_keys_refuse_a_statement_of_an_unknown_account(store_url: str) -> None:
    upgrade(store_url)
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


def test_statements_review_index_is_built_on_sqlite_only(store_url: str) -> None:
    upgrade(store_url)
    engine = make_engine(store_url)
    try:
        indexes = {ix["name"] for ix in inspect(engine).get_indexes("statements")}
        key = inspect(engine).get_pk_constraint("statements")
        assert key["constrained_columns"] == ["account_id", "cycle_date"]
        assert ("ix_statements_review" in indexes) == (engine.dialect.name == "sqlite")
    finally:
        engine.dispose()
