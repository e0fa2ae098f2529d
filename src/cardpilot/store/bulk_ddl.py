"""Taking a table's indexes and keys off for a bulk load and putting them back, on one bulk
connection (:mod:`cardpilot.store.bulk`) inside the load's transaction.

PostgreSQL checks a foreign key with a trigger per row; re-adding the key afterwards validates
every row in one join (PostgreSQL manual, "Populating a Database"). Indexes are built once from
the loaded rows instead of grown row by row. Everything here runs in the caller's transaction,
so a failed load rolls back the rows and the schema changes together.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterable
from typing import Any

from cardpilot.store import bulk
from cardpilot.store.loading import (
    SQLITE_INDEXES,
    BulkState,
    StageTimes,
    droppable_sqlite_indexes,
)

# Foreign keys whose rows a load writes in the order of the key: statements and labels are
# sorted by their primary key, which leads with the account, chunk by chunk (prepare_rows); the
# opening limit history is inserted from the accounts as they lie, in account order.
IN_KEY_ORDER = frozenset(
    {
        ("statements", "account_id"),
        ("performance_labels", "account_id"),
        ("limit_history", "account_id"),
    }
)

_SINGLE_KEY = re.compile(r"^FOREIGN KEY \((\w+)\) REFERENCES")


class ForeignKeyError(ValueError):
    """Rows of a fresh load whose parent is not in the store (the load is rolled back)."""


def scalar(conn: Any, sql: str) -> Any:
    """The first value of the first row of ``sql`` (None when it returns no row)."""
    rows = bulk.read_arrow(conn, sql).to_pylist()
    return next(iter(rows[0].values())) if rows else None


def pairs(conn: Any, sql: str) -> list[tuple[str, str]]:
    """The first two columns of ``sql`` as text pairs."""
    table = bulk.read_arrow(conn, sql)
    return [
        (str(a), str(b))
        for a, b in zip(table.column(0).to_pylist(), table.column(1).to_pylist(), strict=True)
    ]


def is_empty(conn: Any, table: str) -> bool:
    return bool(scalar(conn, f"SELECT NOT EXISTS (SELECT 1 FROM {table})"))


def key_column(definition: str) -> str | None:
    """The column of a one-column foreign key's definition (``pg_get_constraintdef``)."""
    found = _SINGLE_KEY.match(definition)
    return found.group(1) if found else None


def take_off_sqlite(conn: Any, table: str) -> BulkState | None:
    """Drop an empty table's secondary indexes (None when it holds rows). The caller holds
    the write lock (``BEGIN IMMEDIATE``), so the table stays empty until it commits."""
    if not is_empty(conn, table):
        return None
    found = bulk.read_arrow(conn, SQLITE_INDEXES, (table,))
    indexes = droppable_sqlite_indexes(
        list(zip(found.column(0).to_pylist(), found.column(1).to_pylist(), strict=True))
    )
    for name, _ in indexes:
        bulk.execute(conn, f'DROP INDEX "{name}"')
    return BulkState(indexes=indexes, fresh=True)


def take_off_postgres(conn: Any, table: str, expected_rows: int) -> BulkState | None:
    """Drop the table's foreign keys and, when it is empty, its secondary indexes and a primary
    key no key points at; None when the table holds more than twice ``expected_rows``."""
    held = scalar(
        conn,
        f"SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = '{table}'::regclass",
    )
    # Re-validating a foreign key reads the whole table: only for loads at least half the
    # size of what the table already holds.
    if held is not None and int(held) > 2 * expected_rows:
        return None
    bulk.execute(conn, f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")
    fresh = is_empty(conn, table)
    keys = pairs(
        conn,
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        f"WHERE conrelid = '{table}'::regclass AND contype = 'f' ORDER BY conname",
    )
    indexes: list[tuple[str, str]] = []
    primary_key: tuple[str, str] | None = None
    if fresh:
        indexes = pairs(
            conn,
            "SELECT i.relname, pg_get_indexdef(x.indexrelid) FROM pg_index x "
            "JOIN pg_class i ON i.oid = x.indexrelid "
            f"WHERE x.indrelid = '{table}'::regclass AND NOT x.indisprimary "
            "AND NOT x.indisunique AND NOT EXISTS "
            "(SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid) "
            "ORDER BY i.relname",
        )
        # A primary key no foreign key points at (statements, labels) is built again from
        # the loaded rows in one sort, which also re-checks its uniqueness.
        found = pairs(
            conn,
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            f"WHERE conrelid = '{table}'::regclass AND contype = 'p' AND NOT EXISTS "
            "(SELECT 1 FROM pg_constraint f "
            f"WHERE f.contype = 'f' AND f.confrelid = '{table}'::regclass)",
        )
        primary_key = found[0] if found else None
    for name, _ in keys:
        bulk.execute(conn, f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for name, _ in indexes:
        bulk.execute(conn, f'DROP INDEX "{name}"')
    if primary_key is not None:
        bulk.execute(conn, f'ALTER TABLE {table} DROP CONSTRAINT "{primary_key[0]}"')
    return BulkState(foreign_keys=keys, indexes=indexes, primary_key=primary_key, fresh=fresh)


def rebuild(conn: Any, backend: str, table: str, state: BulkState, times: StageTimes) -> None:
    """Put back what ``take_off_*`` took off ``table``: primary key, indexes, foreign keys."""
    if backend == "postgresql" and (state.indexes or state.primary_key):
        # The covering review index of 6M statements sorts ~700 MB: in memory, not merged
        # from disk (a server-side, transaction-long setting).
        bulk.execute(conn, "SET LOCAL maintenance_work_mem = '1GB'")
    if state.primary_key is not None:
        name, definition = state.primary_key
        with times.timed(f"primary_key:{table}"):
            bulk.execute(conn, f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    if state.indexes:
        with times.timed(f"indexes:{table}"):
            for _, sql in state.indexes:
                bulk.execute(conn, sql)
    if state.foreign_keys:
        with times.timed(f"foreign_keys:{table}"):
            for name, definition in state.foreign_keys:
                bulk.execute(
                    conn, f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition} NOT VALID'
                )
                validate_key(conn, table, name, definition)


def validate_key(conn: Any, table: str, name: str, definition: str) -> None:
    """``VALIDATE CONSTRAINT``: one anti-join of the table against the key's parent.

    For the keys of ``IN_KEY_ORDER`` the check runs as a merge join of the table's index on
    the key (just rebuilt) with the parent's primary key, instead of hashing the whole parent
    again for every child table (docs/bench-history.md has the figures). Elsewhere (accounts →
    customers, whose rows are not in customer order) the index walk would visit the table's
    pages out of order, and the hash join stays.
    """
    column = key_column(definition)
    merge = (
        column is not None
        and (table, column) in IN_KEY_ORDER
        and leads_an_index(conn, table, column)
    )
    if merge:
        before = str(scalar(conn, "SELECT current_setting('enable_hashjoin')"))
        bulk.execute(conn, "SET LOCAL enable_hashjoin = off")
    bulk.execute(conn, f'ALTER TABLE {table} VALIDATE CONSTRAINT "{name}"')
    if merge:
        # Not after a failed check: the transaction is aborted and rolls back, setting too.
        bulk.execute(conn, f"SET LOCAL enable_hashjoin = {before}")


def leads_an_index(conn: Any, table: str, column: str) -> bool:
    return bool(
        scalar(
            conn,
            "SELECT EXISTS (SELECT 1 FROM pg_index x JOIN pg_attribute a"
            " ON a.attrelid = x.indrelid AND a.attnum = x.indkey[0]"
            f" WHERE x.indrelid = '{table}'::regclass AND a.attname = '{column}')",
        )
    )


def check_sqlite_foreign_keys(conn: Any, tables: Iterable[str]) -> None:
    """Every foreign key of ``tables``, checked in one query each (``ForeignKeyError``)."""
    for table in tables:
        keys = bulk.read_arrow(conn, f"PRAGMA foreign_key_list({table})").to_pylist()
        for key in keys:
            child, parent, column = key["from"], key["table"], key["to"]
            orphan = bulk.read_arrow(
                conn,
                f"SELECT c.{child} AS v FROM (SELECT DISTINCT {child} FROM {table}"
                f" WHERE {child} IS NOT NULL) c WHERE NOT EXISTS"
                f" (SELECT 1 FROM {parent} p WHERE p.{column} = c.{child}) LIMIT 1",
            ).to_pylist()
            if orphan:
                raise ForeignKeyError(
                    f"FOREIGN KEY constraint failed: {table}.{child} = "
                    f"{orphan[0]['v']!r} is not in {parent}.{column}"
                )


def fast_sqlite_pragmas(conn: Any) -> list[tuple[str, str]]:
    """Pragmas for a fresh SQLite load (outside any transaction); returns what to put back.

    A rollback journal instead of the write-ahead log (rows written once, not to the log and
    again by a checkpoint), foreign keys checked once at the end, sorter threads for the index
    builds.
    """
    restore: list[tuple[str, str]] = []
    wanted = [
        ("foreign_keys", "OFF"),  # checked once, in check_sqlite_foreign_keys
        ("threads", str(min(4, os.cpu_count() or 1))),  # sorter threads for CREATE INDEX
    ]
    journal = str(scalar(conn, "PRAGMA journal_mode")).lower()
    if journal == "wal":
        try:
            # Refused (or left as it is) while another connection has the file open:
            # then the load simply runs in WAL mode.
            changed = str(scalar(conn, "PRAGMA journal_mode=DELETE")).lower()
        except Exception:
            changed = journal
        if changed == "delete":
            restore.append(("journal_mode", "WAL"))
            # A rollback journal is durable with FULL (WAL is with NORMAL).
            wanted.append(("synchronous", "FULL"))
    for name, value in wanted:
        before = str(scalar(conn, f"PRAGMA {name}"))
        bulk.execute(conn, f"PRAGMA {name}={value}")
        restore.append((name, before))
    return restore


def restore_pragmas(conn: Any, restore: list[tuple[str, str]]) -> None:
    """Put back what ``fast_sqlite_pragmas`` changed (outside any transaction)."""
    for name, value in reversed(restore):
        # Best effort: the engine sets WAL and foreign keys again on every connection.
        with contextlib.suppress(Exception):
            bulk.execute(conn, f"PRAGMA {name}={value}")
