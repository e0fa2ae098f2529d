"""Bulk loading through ADBC: Arrow batches straight into the store, no per-row Python.

The same contract as :class:`cardpilot.store.loading.StoreLoader` (``load``, ``begin_bulk``,
``end_bulk``, ``existing``, ``finish``), for stores ADBC can open (a SQLite file, PostgreSQL;
``cardpilot.store.bulk.supports_bulk``). Rows go in as Arrow: on SQLite through prepared
statements bound from Arrow in native code, on PostgreSQL through binary ``COPY``.

**An import is one transaction** (SQLite ``BEGIN IMMEDIATE``: the write lock from the first
statement; PostgreSQL ``BEGIN``), committed by ``finish`` (or on leaving the block without an
error): a failed, killed or interrupted import leaves the store as it was.

- **First load of a table** (empty, at least ``BULK_MIN_ROWS``): ``begin_bulk`` drops the table's
  secondary indexes (and on PostgreSQL its foreign keys and a primary key no key points at;
  :mod:`cardpilot.store.bulk_ddl`), rows are appended straight into the table, and ``end_bulk``
  rebuilds everything before the commit.
- **A first import into an empty store** (``begin_fresh``): every table at once, in any order,
  checked and rebuilt by ``finish_fresh``.
- **Later loads** (re-runs, increments): each chunk is staged in a temporary table and moved
  with ``INSERT … SELECT … ON CONFLICT DO NOTHING``; what it added is the statement's row count.
  Natural keys make a re-run add nothing twice.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from types import TracebackType
from typing import Any

import polars as pl
import pyarrow as pa

from cardpilot.store import bulk, bulk_ddl, loading
from cardpilot.store.bulk_ddl import ForeignKeyError
from cardpilot.store.db import normalise_url, sqlite_bulk_access
from cardpilot.store.loading import BulkState, StageTimes, opening_limits_sql, prepare_rows

__all__ = ["FRESH_ORDER", "ArrowStoreLoader", "ForeignKeyError"]

_LOOKUP = "_cardpilot_lookup"

# What a fresh load (``begin_fresh``) covers, parents first: limit_history and ledger_postings
# are always in it, since the import starts every new account's history and ledger.
FRESH_ORDER = (
    "customers",
    "accounts",
    "statements",
    "transactions",
    "performance_labels",
    "limit_history",
    "ledger_postings",
)
# Tables the import itself writes, whatever its input holds: in every fresh load.
ALWAYS_FRESH = ("limit_history", "ledger_postings")


class ArrowStoreLoader:
    """Loads frames into one store over one ADBC connection; use as a context manager."""

    def __init__(
        self, url: str, times: StageTimes | None = None, *, lock_timeout: float | None = None
    ) -> None:
        self.url = url
        # Where the import's time goes (``stage: seconds``), reported with its result.
        self.times = times if times is not None else StageTimes()
        self.backend = normalise_url(url).get_backend_name()
        self.lock_timeout = lock_timeout
        self._manager: Any = None
        self._access: Any = None
        self._conn: Any = None
        self._open = False  # a transaction is open on the connection
        self._bulk: dict[str, BulkState] = {}
        # A fresh load (``begin_fresh``) is open: every table in one bulk load.
        self._fresh = False
        # SQLite pragmas changed for a fresh load, with the values to put back.
        self._restore: list[tuple[str, str]] = []
        # The import reads ahead on another thread, which looks ids up on this connection.
        self._lock = threading.RLock()

    def __enter__(self) -> ArrowStoreLoader:
        database = normalise_url(self.url).database
        if self.backend == "sqlite" and database:
            # Refused while SQLAlchemy has the file open in this process, and SQLAlchemy is
            # refused until this loader closes: two SQLite libraries can corrupt a file.
            self._access = sqlite_bulk_access(database)
            self._access.__enter__()
        try:
            self._manager = bulk.managed_connection(self.url, lock_timeout=self.lock_timeout)
            self._conn = self._manager.__enter__()
        except BaseException:
            self._release()
            raise
        return self

    def _release(self) -> None:
        if self._access is not None:
            access, self._access = self._access, None
            access.__exit__(None, None, None)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc_type is None:
                self.finish()
            else:
                self._rollback()
        finally:
            self._restore_pragmas()
            try:
                with self.times.timed("close"):
                    self._manager.__exit__(exc_type, exc, tb)
            finally:
                self._manager = self._conn = None
                self._release()

    def finish(self) -> None:
        """Rebuild what bulk loads took off, check, and commit the import."""
        with self._lock:
            if self._fresh:
                self.finish_fresh()
                return
            try:
                for table in list(self._bulk):
                    self._end_bulk(table)
                with self.times.timed("commit"):
                    self._commit()
            except BaseException:
                self._rollback()
                raise

    # -- transactions --------------------------------------------------------------------------

    def _begin(self) -> None:
        if not self._open:
            bulk.execute(self._conn, "BEGIN IMMEDIATE" if self.backend == "sqlite" else "BEGIN")
            self._open = True

    def _commit(self) -> None:
        if self._open:
            bulk.execute(self._conn, "COMMIT")
            self._open = False

    def _rollback(self) -> None:
        self._bulk.clear()
        self._fresh = False
        if self._open:
            self._open = False
            bulk.execute(self._conn, "ROLLBACK")

    # -- loading -------------------------------------------------------------------------------

    def load(self, table: str, frame: pl.DataFrame, *, presorted: bool = False) -> int:
        """Insert the rows of ``frame`` not yet in ``table``; return how many were added.

        ``presorted``: the rows are already in primary-key order (no sort needed)."""
        if frame.height == 0:
            return 0
        with self.times.timed(f"prepare:{table}"):
            frame, columns = prepare_rows(table, frame, presorted=presorted)
            if self.backend == "sqlite":
                # The ISO text ADBC would write, made by Polars in one pass: the driver's own
                # per-value date formatting costs about a third of a statement row's insert.
                frame = frame.with_columns(pl.col(pl.Date).cast(pl.Utf8))
            data = frame.to_arrow()
        with self._lock, self.times.timed(f"write:{table}"):
            try:
                state = self._bulk.get(table)
                if state is not None and state.fresh:
                    # Empty and locked when the load began, and the import rejects keys it has
                    # already seen: nothing can conflict, so rows go straight in.
                    return bulk.ingest(self._conn, table, data)
                self._begin()
                return self._merge(table, data, columns)
            except BaseException:
                self._rollback()
                raise

    def _merge(self, table: str, data: pa.Table, columns: list[str]) -> int:
        """Stage ``data`` in a temporary table, then add the rows whose keys are new."""
        stage = f"_cardpilot_stage_{table}"
        bulk.ingest(self._conn, stage, data, mode="replace", temporary=True)
        cols = ", ".join(columns)
        # ``WHERE true``: SQLite's parser needs it between a SELECT and an upsert clause.
        added = bulk.execute(
            self._conn,
            f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {stage} WHERE true "
            "ON CONFLICT DO NOTHING",
        )
        if self.backend == "sqlite":
            # The SQLite driver reports no row count; changes() is that of the last INSERT.
            added = int(bulk_ddl.scalar(self._conn, "SELECT changes()"))
        bulk.execute(self._conn, f"DROP TABLE {stage}")
        return max(added, 0)

    # -- fresh load ----------------------------------------------------------------------------

    def begin_fresh(self, tables: Mapping[str, int | None]) -> bool:
        """Take a first import into an empty store as one bulk load of every table.

        ``tables`` maps the store tables the import writes to their expected rows. When every
        one of them and ``limit_history`` is empty, all of them go into bulk mode (indexes,
        and on PostgreSQL foreign keys, off), and ``finish_fresh`` rebuilds and checks
        everything and commits once, so rows of different tables may come in any order (a
        child's rows before its parent's). On SQLite the load also runs with a rollback
        journal instead of the write-ahead log, foreign keys checked once at the end, and
        sorter threads for the index builds (``bulk_ddl.fast_sqlite_pragmas``); all of it is
        put back afterwards. Returns False (and changes nothing) when any table holds rows.
        """
        names = [t for t in FRESH_ORDER if t in tables or t in ALWAYS_FRESH]
        with self._lock:
            if self._bulk or self._open or not names:
                return False
            if not all(bulk_ddl.is_empty(self._conn, t) for t in names):
                return False
            if self.backend == "sqlite":
                self._restore = bulk_ddl.fast_sqlite_pragmas(self._conn)
            try:
                for table in names:
                    state = self._take_off(table, tables.get(table) or 0)
                    if state is None or not state.fresh:
                        # Rows arrived between the look and the lock: the ordinary path.
                        self._rollback()
                        self._restore_pragmas()
                        return False
                    self._bulk[table] = state
            except BaseException:
                self._rollback()
                self._restore_pragmas()
                raise
            self._fresh = True
            return True

    @property
    def fresh(self) -> bool:
        """A fresh load is open: tables may be written in any order until ``finish_fresh``."""
        return self._fresh

    def finish_fresh(self) -> None:
        """Rebuild every table's indexes and keys, check foreign keys, commit (``begin_fresh``)."""
        if not self._fresh:
            return
        timed = self.times.timed
        with self._lock:
            try:
                for table in [t for t in FRESH_ORDER if t in self._bulk]:
                    bulk_ddl.rebuild(
                        self._conn, self.backend, table, self._bulk.pop(table), self.times
                    )
                if self.backend == "sqlite":
                    with timed("foreign_keys"):
                        bulk_ddl.check_sqlite_foreign_keys(self._conn, FRESH_ORDER)
                with timed("commit"):
                    self._commit()
                self._fresh = False
            except BaseException:
                self._rollback()
                raise
            finally:
                self._restore_pragmas()

    def _restore_pragmas(self) -> None:
        if not self._restore or self._conn is None:
            return
        restore, self._restore = self._restore, []
        bulk_ddl.restore_pragmas(self._conn, restore)

    # -- bulk mode -----------------------------------------------------------------------------

    def begin_bulk(self, table: str, expected_rows: int | None) -> bool:
        """Load ``table`` with its indexes (and PostgreSQL keys) off; ``end_bulk`` puts them back
        (``cardpilot.store.bulk_ddl``), in the import's transaction."""
        if table in self._bulk or expected_rows is None or expected_rows < loading.BULK_MIN_ROWS:
            return False
        with self._lock:
            try:
                state = self._take_off(table, expected_rows)
            except BaseException:
                self._rollback()
                raise
            if state is None:
                return False
            self._bulk[table] = state
            return True

    def _take_off(self, table: str, expected_rows: int) -> BulkState | None:
        self._begin()  # SQLite BEGIN IMMEDIATE: the write lock, so the table stays empty
        if self.backend == "sqlite":
            return bulk_ddl.take_off_sqlite(self._conn, table)
        return bulk_ddl.take_off_postgres(self._conn, table, expected_rows)

    def end_bulk(self, table: str) -> None:
        """Rebuild what ``begin_bulk`` took off ``table`` (a fresh load waits for its finish)."""
        if self._fresh:
            return
        with self._lock:
            try:
                self._end_bulk(table)
            except BaseException:
                self._rollback()
                raise

    def _end_bulk(self, table: str) -> None:
        state = self._bulk.pop(table, None)
        if state is not None:
            bulk_ddl.rebuild(self._conn, self.backend, table, state, self.times)

    def open_limit_history(self, expected_rows: int | None = None) -> int:
        """Start the limit history of accounts that have none (``opening_limits_sql``).

        ``expected_rows`` (the accounts this run added) lets a large first load take the bulk
        path: on PostgreSQL the key to accounts is then validated once, not by a trigger per row.
        """
        with self._lock:
            began = self.begin_bulk("limit_history", expected_rows)
            state = self._bulk.get("limit_history")
            # Empty and locked: every dated account gets its row, no need to look for one.
            first = state is not None and state.fresh
            try:
                self._begin()
                added = bulk.execute(self._conn, opening_limits_sql(self.backend, fresh=first))
                if self.backend == "sqlite":
                    added = int(bulk_ddl.scalar(self._conn, "SELECT changes()"))
            except BaseException:
                self._rollback()
                raise
            if began:
                self.end_bulk("limit_history")
        return max(added, 0)

    def run_insert(self, sql: str) -> int:
        """An ``INSERT … SELECT`` over the store's own rows, in the import's transaction; the
        rows it added."""
        with self._lock:
            try:
                self._begin()
                added = bulk.execute(self._conn, sql)
                if self.backend == "sqlite":
                    added = int(bulk_ddl.scalar(self._conn, "SELECT changes()"))
            except BaseException:
                self._rollback()
                raise
        return max(added, 0)

    # -- look-ups ------------------------------------------------------------------------------

    def existing(self, table: str, column: str, values: pl.Series) -> pl.Series:
        """Which of ``values`` are already in ``table.column`` (for parents outside the import)."""
        values = values.drop_nulls().unique()
        if values.len() == 0:
            return pl.Series(column, [], dtype=values.dtype)
        with self._lock:
            try:
                self._begin()
                bulk.ingest(
                    self._conn,
                    _LOOKUP,
                    pa.table({"v": values.to_arrow()}),
                    mode="replace",
                    temporary=True,
                )
                found = bulk.read_arrow(
                    self._conn,
                    f"SELECT t.{column} AS v FROM {table} t JOIN {_LOOKUP} l ON t.{column} = l.v",
                )
                bulk.execute(self._conn, f"DROP TABLE {_LOOKUP}")
            except BaseException:
                self._rollback()
                raise
        series = pl.from_arrow(found.column("v"))
        assert isinstance(series, pl.Series)
        return series.alias(column).cast(values.dtype)
