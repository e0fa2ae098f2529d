"""One SQLite file, one SQLite library at a time per process (ADBC links its own copy)."""

from __future__ import annotations

from pathlib import Path

import pytest


def test_a_sqlite_file_is_never_open_through_two_sqlite_libraries_at_once(tmp_path: Path) -> None:
    from sqlalchemy import text

    from cardpilot.store.db import SQLiteLibraryClashError, make_engine, sqlite_bulk_access

    path = tmp_path / "two-libraries.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
        with (
            pytest.raises(SQLiteLibraryClashError, match="dispose the engine"),
            sqlite_bulk_access(str(path)),
        ):
            pass
    engine.dispose()  # the pooled connection is closed: bulk access is allowed now
    with (
        sqlite_bulk_access(str(path)),
        pytest.raises(SQLiteLibraryClashError, match="finish the bulk step"),
    ):
        engine.connect()
    with engine.connect() as connection:  # and SQLAlchemy again once the bulk step is over
        assert connection.execute(text("SELECT 1")).scalar_one() == 1
    engine.dispose()


def test_bulk_connections_take_their_turn_with_sqlalchemy(tmp_path: Path) -> None:
    from sqlalchemy import text

    from cardpilot.store import bulk
    from cardpilot.store.db import SQLiteLibraryClashError, make_engine

    url = f"sqlite:///{tmp_path / 'turns.db'}"
    engine = make_engine(url)
    with engine.connect() as connection:
        connection.execute(text("CREATE TABLE t (a INTEGER)"))
        connection.commit()
        for opener in (bulk.bulk_connection, bulk.managed_connection):
            with pytest.raises(SQLiteLibraryClashError), opener(url):
                pass
    engine.dispose()
    with bulk.bulk_connection(url) as conn:
        bulk.execute(conn, "INSERT INTO t VALUES (1)")
        conn.commit()
    with engine.connect() as connection:
        assert connection.execute(text("SELECT a FROM t")).scalar_one() == 1
    engine.dispose()


def test_an_engine_dropped_without_dispose_does_not_block_bulk_work(tmp_path: Path) -> None:
    from sqlalchemy import text

    from cardpilot.store.db import make_engine, sqlite_bulk_access

    path = tmp_path / "dropped.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    del engine, connection  # pooled connection still open, engine unreachable
    with sqlite_bulk_access(str(path)):
        pass
