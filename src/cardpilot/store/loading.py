"""Loading checked, store-shaped frames: the contract every import loader keeps, and the
SQLAlchemy loader for stores ADBC cannot open (an in-memory SQLite store: two drivers cannot
share it). Files and PostgreSQL load through :mod:`cardpilot.store.arrow_loading`.

Every insert is ``ON CONFLICT DO NOTHING`` on the natural keys, so re-running an import adds
nothing twice. An import is one transaction, committed when the loader closes without an
error: a failed or interrupted import leaves the store as it was. Rows go in sorted by primary
key so the B-tree grows at its end. A large first load of a table (``begin_bulk`` on an empty
table) has the table's secondary indexes dropped and built again before the commit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import polars as pl
from sqlalchemy import Engine

from cardpilot.store.models import Base

# Primary keys (the natural keys an import deduplicates on), per table.
KEYS: dict[str, tuple[str, ...]] = {
    "customers": ("customer_id",),
    "accounts": ("account_id",),
    "statements": ("account_id", "cycle_date"),
    "transactions": ("transaction_id",),
    "performance_labels": ("account_id", "label"),
}
SQLITE_BATCH_ROWS = 50_000
# Bulk mode (see ``begin_bulk``): only for loads this large (and, on PostgreSQL, at least half
# the size of what the table already holds, because re-validating a foreign key reads it all).
BULK_MIN_ROWS = 100_000
_ID_LOOKUP_BATCH = 5_000
# Limit history starts with the limit an account was opened with.
OPENING_LIMIT_NOTE = "opening limit at import"


@dataclass
class BulkState:
    """What ``begin_bulk`` took off a table, to put back at ``end_bulk``."""

    foreign_keys: list[tuple[str, str]] = field(default_factory=list)  # (name, definition)
    indexes: list[tuple[str, str]] = field(default_factory=list)  # (name, CREATE INDEX …)
    primary_key: tuple[str, str] | None = None  # (name, definition), PostgreSQL leaf tables
    # The table was empty when the load began (and is locked for it): rows go straight in.
    fresh: bool = False


class StageTimes:
    """Wall seconds per named stage of an import (summed when a stage runs more than once).

    Thread-safe: the reading thread times its own stages into the same record.
    """

    def __init__(self) -> None:
        self._seconds: dict[str, float] = {}
        self._lock = threading.Lock()

    def add(self, stage: str, seconds: float) -> None:
        with self._lock:
            self._seconds[stage] = self._seconds.get(stage, 0.0) + seconds

    @contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.add(stage, time.perf_counter() - started)

    def as_dict(self) -> dict[str, float]:
        with self._lock:
            return {k: round(v, 3) for k, v in self._seconds.items()}


def table_columns(table: str) -> list[str]:
    return [c.name for c in Base.metadata.tables[table].columns]


def _check_columns(table: str, frame: pl.DataFrame) -> list[str]:
    known = set(table_columns(table))
    unknown = [c for c in frame.columns if c not in known]
    if unknown:
        raise ValueError(f"{table}: no such columns in the store: {', '.join(unknown)}")
    return list(frame.columns)


SQLITE_INDEXES = (
    "SELECT name, sql FROM sqlite_master "
    "WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL ORDER BY name"
)


def droppable_sqlite_indexes(rows: Sequence[Sequence[Any]]) -> list[tuple[str, str]]:
    """(name, SQL) of indexes made by CREATE INDEX (keys' autoindexes have no SQL), not unique."""
    return [
        (str(name), str(sql))
        for name, sql in rows
        if not str(sql).lstrip().upper().startswith("CREATE UNIQUE")
    ]


def prepare_rows(
    table: str, frame: pl.DataFrame, *, presorted: bool = False
) -> tuple[pl.DataFrame, list[str]]:
    """Check ``frame``'s columns against ``table``; rows sorted by primary key (B-trees then
    grow at their end). ``presorted``: the caller knows they already are."""
    columns = _check_columns(table, frame)
    keys = list(KEYS.get(table, ()))
    return (frame.sort(keys) if keys and not presorted else frame), columns


class StoreLoader:
    """Loads frames into a SQLite store through SQLAlchemy's driver, in one transaction that
    commits when the loader closes without an error; a context manager."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.backend = engine.dialect.name
        self._pooled: Any = None
        self._conn: Any = None
        # table → the indexes dropped for the length of a bulk load
        self._bulk: dict[str, BulkState] = {}
        # The import reads ahead on another thread; both threads share this one connection.
        self._lock = threading.RLock()

    def __enter__(self) -> StoreLoader:
        self._pooled = self.engine.raw_connection()
        self._conn = self._pooled.driver_connection
        if self.backend == "sqlite":
            # A bigger page cache and in-memory temp b-trees for the load only: index builds
            # on millions of rows otherwise spill to disk.
            self._conn.execute("PRAGMA cache_size=-262144")
            self._conn.execute("PRAGMA temp_store=MEMORY")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._pooled is None:
            return
        try:
            if exc_type is None:
                self.finish()
            else:
                self._bulk.clear()
                self._conn.rollback()
            if self.backend == "sqlite":
                self._conn.execute("PRAGMA cache_size=-2000")
        finally:
            self._pooled.close()
            self._pooled = None
            self._conn = None

    def finish(self) -> None:
        """Rebuild what bulk loads took off and commit the import."""
        with self._lock:
            try:
                for table in list(self._bulk):
                    self.end_bulk(table)
                if self._conn.in_transaction:
                    self._conn.commit()
            except BaseException:
                self._conn.rollback()
                self._bulk.clear()
                raise

    def _begin(self) -> None:
        """The import's transaction, with the write lock from its start (DDL included: the
        driver would otherwise run a ``DROP INDEX`` outside any transaction)."""
        if not self._conn.in_transaction:
            self._conn.execute("BEGIN IMMEDIATE")

    # -- loading -------------------------------------------------------------------------------

    def load(self, table: str, frame: pl.DataFrame, *, presorted: bool = False) -> int:
        """Insert the rows of ``frame`` not yet in ``table``; return how many were added.

        ``presorted``: the rows are already in primary-key order (no sort needed)."""
        if frame.height == 0:
            return 0
        frame, columns = prepare_rows(table, frame, presorted=presorted)
        with self._lock:
            self._begin()
            return self._load_sqlite(table, frame, columns)

    def _load_sqlite(self, table: str, frame: pl.DataFrame, columns: list[str]) -> int:
        sql = (
            f"INSERT INTO {table} ({', '.join(columns)}) "
            f"VALUES ({', '.join('?' for _ in columns)}) ON CONFLICT DO NOTHING"
        )
        rows = sqlite_values(frame)
        conn = self._conn
        before = conn.total_changes
        try:
            for offset in range(0, rows.height, SQLITE_BATCH_ROWS):
                conn.executemany(sql, rows.slice(offset, SQLITE_BATCH_ROWS).iter_rows())
        except BaseException:
            conn.rollback()
            self._bulk.clear()
            raise
        return int(conn.total_changes - before)

    # -- bulk mode -----------------------------------------------------------------------------

    def begin_bulk(self, table: str, expected_rows: int | None) -> bool:
        """Load an empty ``table`` with its secondary indexes off, built again at ``end_bulk``.

        Built once from sorted data is faster than grown row by row. Everything comes back (or
        rolls back) in the import's one transaction, indexes included.
        """
        if table in self._bulk:
            return False
        if expected_rows is None or expected_rows < BULK_MIN_ROWS:
            return False
        with self._lock:
            return self._begin_bulk_sqlite(table)

    def _begin_bulk_sqlite(self, table: str) -> bool:
        conn = self._conn
        try:
            self._begin()
            empty = conn.execute(f"SELECT NOT EXISTS (SELECT 1 FROM {table})").fetchone()[0]
            if not empty:
                return False
            # Indexes made by CREATE INDEX (autoindexes of keys have no SQL), unique ones kept.
            indexes = droppable_sqlite_indexes(conn.execute(SQLITE_INDEXES, (table,)).fetchall())
            for name, _ in indexes:
                conn.execute(f'DROP INDEX "{name}"')
        except BaseException:
            conn.rollback()
            self._bulk.clear()
            raise
        self._bulk[table] = BulkState(indexes=indexes, fresh=True)
        return True

    def end_bulk(self, table: str) -> None:
        """Rebuild the indexes ``begin_bulk`` dropped (the import commits them with its rows)."""
        bulk = self._bulk.pop(table, None)
        if bulk is None:
            return
        with self._lock:
            try:
                for _, sql in bulk.indexes:
                    self._conn.execute(sql)
            except BaseException:
                self._conn.rollback()
                self._bulk.clear()
                raise

    def open_limit_history(self) -> int:
        """Start the limit history of accounts that have none (``opening_limits_sql``)."""
        with self._lock:
            conn = self._conn
            try:
                self._begin()
                added = conn.execute(opening_limits_sql(self.backend)).rowcount
            except BaseException:
                conn.rollback()
                raise
        return max(int(added), 0)

    def run_insert(self, sql: str) -> int:
        """An ``INSERT … SELECT`` over the store's own rows, in the import's transaction; the
        rows it added."""
        with self._lock:
            conn = self._conn
            try:
                self._begin()
                added = conn.execute(sql).rowcount
            except BaseException:
                conn.rollback()
                raise
        return max(int(added), 0)

    # -- look-ups ------------------------------------------------------------------------------

    def existing(self, table: str, column: str, values: pl.Series) -> pl.Series:
        """Which of ``values`` are already in ``table.column`` (for parents outside the import)."""
        values = values.drop_nulls().unique()
        found: list[Any] = []
        with self._lock:
            cursor = self._conn.cursor()
            try:
                for offset in range(0, values.len(), _ID_LOOKUP_BATCH):
                    batch = values.slice(offset, _ID_LOOKUP_BATCH).to_list()
                    marks = ", ".join("?" for _ in batch)
                    cursor.execute(
                        f"SELECT {column} FROM {table} WHERE {column} IN ({marks})", batch
                    )
                    found.extend(row[0] for row in cursor.fetchall())
            finally:
                cursor.close()
        return pl.Series(column, found, dtype=values.dtype)


def sqlite_values(frame: pl.DataFrame) -> pl.DataFrame:
    """Column types as SQLAlchemy stores them in SQLite (dates and timestamps as ISO text)."""
    exprs: list[pl.Expr] = []
    for name, dtype in frame.schema.items():
        col = pl.col(name)
        if dtype == pl.Date:
            exprs.append(col.cast(pl.Utf8))
        elif isinstance(dtype, pl.Datetime):
            if dtype.time_zone is not None:
                col = col.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
            exprs.append(col.dt.strftime("%Y-%m-%d %H:%M:%S%.6f"))
        elif dtype == pl.Boolean:
            exprs.append(col.cast(pl.Int8))
        else:
            exprs.append(col)
    return frame.select(exprs)


def opening_limits_sql(backend: str, *, fresh: bool = False) -> str:
    """``INSERT … SELECT`` of an opening-limit row for each account with no limit history yet.

    Idempotent (an account with any history row is skipped), so a re-run adds nothing. The
    row takes effect on the account's open date, at midnight UTC. An account whose open date is
    unknown (the UCI layout gives none) gets no row: a guessed date would read as a recent limit
    change to the review's cooling guard (docs/policy.md, ``cooling_months``). ``fresh``: the
    history is empty and locked for this load, so the look for an existing row is left out.
    """
    if backend == "postgresql":
        effective = "a.open_date::timestamp AT TIME ZONE 'UTC'"
    else:
        # SQLAlchemy's SQLite DateTime text, as the review writes it.
        effective = "a.open_date || ' 00:00:00.000000'"
    unseen = (
        ""
        if fresh
        else " AND NOT EXISTS (SELECT 1 FROM limit_history h WHERE h.account_id = a.account_id)"
    )
    return (
        "INSERT INTO limit_history (account_id, effective_at, old_limit_minor, new_limit_minor,"
        " source, note)"
        f" SELECT a.account_id, {effective}, NULL, a.credit_limit_minor, 'import',"
        f" '{OPENING_LIMIT_NOTE}' FROM accounts a"
        f" WHERE a.open_date IS NOT NULL{unseen}"
    )
