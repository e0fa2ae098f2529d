"""Statements with ``:name`` parameters on an ADBC connection (``cardpilot.store.bulk``), and
the explicit transactions the review's writer runs on one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from cardpilot.store.bulk import bind_named, execute, read_arrow_whole
from cardpilot.store.frame_reads import adbc_frame


def is_sqlite_connection(connection: Any) -> bool:
    return type(connection).__module__.startswith("adbc_driver_sqlite")


def execute_named(connection: Any, sql: str, params: Mapping[str, Any]) -> None:
    """One statement with ``:name`` parameters."""
    statement, values = bind_named(connection, sql, params)
    with connection.cursor() as cursor:
        cursor.execute(statement, values)


def inserted_rows(connection: Any, sql: str, params: Mapping[str, Any]) -> int:
    """Run one INSERT with ``:name`` parameters; returns the rows it inserted (neither ADBC
    driver reports a row count: SQLite's ``changes()``, PostgreSQL's ``RETURNING``)."""
    if is_sqlite_connection(connection):
        execute_named(connection, sql, params)
        table = read_arrow_whole(connection, "SELECT changes()")
        return int(table.column(0)[0].as_py())
    counted = adbc_frame(
        connection,
        f"WITH changed AS ({sql} RETURNING 1) SELECT COUNT(*) FROM changed",
        params,
        {"n": pl.Int64()},
    )
    return int(counted["n"][0]) if counted.height else 0


def begin(connection: Any) -> None:
    """Open a transaction. SQLite (an autocommit connection): ``BEGIN IMMEDIATE``, the write
    lock now rather than at the first write. PostgreSQL: the driver's transaction is open."""
    if is_sqlite_connection(connection):
        execute(connection, "BEGIN IMMEDIATE")
        connection._cardpilot_open = True


def commit(connection: Any) -> None:
    if is_sqlite_connection(connection):
        execute(connection, "COMMIT")
        connection._cardpilot_open = False
    else:
        connection.commit()


def in_transaction(connection: Any) -> bool:
    return bool(getattr(connection, "_cardpilot_open", False))


def savepoint(connection: Any, name: str) -> None:
    execute(connection, f"SAVEPOINT {name}")


def release(connection: Any, name: str) -> None:
    execute(connection, f"RELEASE SAVEPOINT {name}")


def roll_back_to(connection: Any, name: str) -> None:
    execute(connection, f"ROLLBACK TO SAVEPOINT {name}")
    execute(connection, f"RELEASE SAVEPOINT {name}")


def roll_back(connection: Any) -> None:
    execute(connection, "ROLLBACK")


def set_pragmas(connection: Any, *pragmas: str) -> None:
    """SQLite pragmas (``name=value``) on the connection."""
    for pragma in pragmas:
        execute(connection, f"PRAGMA {pragma}")


def pragma_value(connection: Any, pragma: str) -> Any:
    """A SQLite pragma's value (or the first value of a pragma's result)."""
    return read_arrow_whole(connection, f"PRAGMA {pragma}").column(0)[0].as_py()
