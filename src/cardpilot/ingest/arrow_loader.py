"""Bulk loading through ADBC: Arrow batches straight into the store, no per-row Python.

The same contract as :class:`cardpilot.ingest.loader.StoreLoader` (``load``, ``begin_bulk``,
``end_bulk``, ``existing``), for stores ADBC can open (a SQLite file, PostgreSQL;
``cardpilot.store.bulk.supports_bulk``). Rows go in as Arrow: on SQLite through prepared
statements bound from Arrow in native code, on PostgreSQL through binary ``COPY``.

- **First load of a table** (empty, at least ``BULK_MIN_ROWS``): ``begin_bulk`` opens one
  transaction (SQLite ``BEGIN IMMEDIATE``: the write lock up front; PostgreSQL a table lock),
  drops the table's secondary indexes (and on PostgreSQL its foreign keys and a primary key no
  key points at), rows are appended straight into the table, and ``end_bulk`` rebuilds
  everything in the same transaction. Bulk loads of several tables share that transaction and it
  commits when the last one ends, so a failed import leaves the store as it was.
- **Later loads** (re-runs, increments): each chunk is staged in a temporary table and moved
  with ``INSERT … SELECT … ON CONFLICT DO NOTHING``, one transaction per chunk; what it added is
  the statement's row count. Natural keys make a re-run add nothing twice.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from collections.abc import Mapping
from types import TracebackType
from typing import Any

import polars as pl
import pyarrow as pa

from cardpilot.ingest import loader
from cardpilot.ingest.loader import (
    SQLITE_INDEXES,
    BulkState,
    StageTimes,
    droppable_sqlite_indexes,
    opening_limits_sql,
    prepare_rows,
)
from cardpilot.store import bulk
from cardpilot.store.db import normalise_url, sqlite_bulk_access

_LOOKUP = "_cardpilot_lookup"

# What a fresh load (``begin_fresh``) covers, parents first: limit_history is always in it, since
# the import starts every new account's history.
FRESH_ORDER = (
    "customers",
    "accounts",
    "statements",
    "transactions",
    "performance_labels",
    "limit_history",
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


def _key_column(definition: str) -> str | None:
    """The column of a one-column foreign key's definition (``pg_get_constraintdef``)."""
    found = _SINGLE_KEY.match(definition)
    return found.group(1) if found else None


class ForeignKeyError(ValueError):
    """Rows of a fresh load whose parent is not in the store (the load is rolled back)."""


class ArrowStoreLoader:
    """Loads frames into one store over one ADBC connection; use as a context manager."""

    def __init__(self, url: str, times: StageTimes | None = None) -> None:
        self.url = url
        # Where the import's time goes (``stage: seconds``), reported with its result.
        self.times = times if times is not None else StageTimes()
        self.backend = normalise_url(url).get_backend_name()
        self._manager: Any = None
        self._access: Any = None
        self._conn: Any = None
        self._open = False  # a transaction is open on the connection
        self._bulk: dict[str, BulkState] = {}
        # A fresh load (``begin_fresh``) is open: every table in one transaction.
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
            self._manager = bulk.managed_connection(self.url)
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
                if self._fresh:
                    self.finish_fresh()
                for table in list(self._bulk):
                    self.end_bulk(table)
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
                added = self._merge(table, data, columns)
                if not self._bulk:
                    self._commit()
                return added
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
            added = int(self._scalar("SELECT changes()"))
        bulk.execute(self._conn, f"DROP TABLE {stage}")
        return max(added, 0)

    # -- fresh load ----------------------------------------------------------------------------

    def begin_fresh(self, tables: Mapping[str, int | None]) -> bool:
        """Take a first import into an empty store as one bulk load of every table.

        ``tables`` maps the store tables the import writes to their expected rows. When every
        one of them and ``limit_history`` is empty, all of them go into bulk mode in one
        transaction (indexes, and on PostgreSQL foreign keys, off), and ``finish_fresh``
        rebuilds and checks everything and commits once: a failed or interrupted import
        leaves the store empty, and rows of different tables may come in any order (a
        child's rows before its parent's). On SQLite the load also runs with a rollback
        journal instead of the write-ahead log (rows written once, not to the log and then
        again by a checkpoint; new pages past the end of the file need no journal), foreign
        keys checked once at the end, and sorter threads for the index builds; all of it is
        put back afterwards. Returns False (and changes nothing) when any table holds rows.
        """
        names = [t for t in FRESH_ORDER if t in tables or t == "limit_history"]
        with self._lock:
            if self._bulk or self._open or not names:
                return False
            if not all(self._empty(t) for t in names):
                return False
            if self.backend == "sqlite":
                self._fast_sqlite()
            try:
                for table in names:
                    if self.backend == "sqlite":
                        state = self._begin_bulk_sqlite(table)
                    else:
                        state = self._begin_bulk_postgres(table, tables.get(table) or 0)
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
                    self._rebuild(table, self._bulk.pop(table))
                if self.backend == "sqlite":
                    with timed("foreign_keys"):
                        self._check_sqlite_keys()
                with timed("commit"):
                    self._commit()
                self._fresh = False
            except BaseException:
                self._rollback()
                raise
            finally:
                self._restore_pragmas()

    def _empty(self, table: str) -> bool:
        return bool(self._scalar(f"SELECT NOT EXISTS (SELECT 1 FROM {table})"))

    def _fast_sqlite(self) -> None:
        """Pragmas for a fresh SQLite load, each undone by ``_restore_pragmas``."""
        wanted = [
            ("foreign_keys", "OFF"),  # checked once, in finish_fresh
            ("threads", str(min(4, os.cpu_count() or 1))),  # sorter threads for CREATE INDEX
        ]
        journal = str(self._scalar("PRAGMA journal_mode")).lower()
        if journal == "wal":
            try:
                # Refused (or left as it is) while another connection has the file open:
                # then the load simply runs in WAL mode.
                changed = str(self._scalar("PRAGMA journal_mode=DELETE")).lower()
            except Exception:
                changed = journal
            if changed == "delete":
                self._restore.append(("journal_mode", "WAL"))
                # A rollback journal is durable with FULL (WAL is with NORMAL).
                wanted.append(("synchronous", "FULL"))
        for name, value in wanted:
            before = str(self._scalar(f"PRAGMA {name}"))
            bulk.execute(self._conn, f"PRAGMA {name}={value}")
            self._restore.append((name, before))

    def _restore_pragmas(self) -> None:
        """Put back what ``_fast_sqlite`` changed (outside any transaction)."""
        if not self._restore or self._conn is None:
            return
        restore, self._restore = self._restore, []
        for name, value in reversed(restore):
            # Best effort: the engine sets WAL and foreign keys again on every connection.
            with contextlib.suppress(Exception):
                bulk.execute(self._conn, f"PRAGMA {name}={value}")

    def _check_sqlite_keys(self) -> None:
        """Every foreign key of the loaded tables, checked in one query each."""
        for table in FRESH_ORDER:
            keys = bulk.read_arrow(self._conn, f"PRAGMA foreign_key_list({table})").to_pylist()
            for key in keys:
                child, parent, column = key["from"], key["table"], key["to"]
                orphan = bulk.read_arrow(
                    self._conn,
                    f"SELECT c.{child} AS v FROM (SELECT DISTINCT {child} FROM {table}"
                    f" WHERE {child} IS NOT NULL) c WHERE NOT EXISTS"
                    f" (SELECT 1 FROM {parent} p WHERE p.{column} = c.{child}) LIMIT 1",
                ).to_pylist()
                if orphan:
                    raise ForeignKeyError(
                        f"FOREIGN KEY constraint failed: {table}.{child} = "
                        f"{orphan[0]['v']!r} is not in {parent}.{column}"
                    )

    # -- bulk mode -----------------------------------------------------------------------------

    def begin_bulk(self, table: str, expected_rows: int | None) -> bool:
        """Load ``table`` with its indexes (and PostgreSQL keys) off; ``end_bulk`` puts them back.

        PostgreSQL checks a foreign key with a trigger per row; re-adding the key afterwards
        validates every row in one join (PostgreSQL manual, "Populating a Database"). Indexes
        are built once from the loaded rows instead of grown row by row.
        """
        if table in self._bulk or expected_rows is None or expected_rows < loader.BULK_MIN_ROWS:
            return False
        with self._lock:
            try:
                if self.backend == "sqlite":
                    state = self._begin_bulk_sqlite(table)
                else:
                    state = self._begin_bulk_postgres(table, expected_rows)
            except BaseException:
                self._rollback()
                raise
            if state is None:
                if not self._bulk:
                    self._commit()
                return False
            self._bulk[table] = state
            return True

    def _begin_bulk_sqlite(self, table: str) -> BulkState | None:
        self._begin()  # BEGIN IMMEDIATE: the write lock, so the table stays empty till commit
        empty = self._scalar(f"SELECT NOT EXISTS (SELECT 1 FROM {table})")
        if not empty:
            return None
        found = bulk.read_arrow(self._conn, SQLITE_INDEXES, (table,))
        indexes = droppable_sqlite_indexes(
            list(zip(found.column(0).to_pylist(), found.column(1).to_pylist(), strict=True))
        )
        for name, _ in indexes:
            bulk.execute(self._conn, f'DROP INDEX "{name}"')
        return BulkState(indexes=indexes, fresh=True)

    def _begin_bulk_postgres(self, table: str, expected_rows: int) -> BulkState | None:
        self._begin()
        held = self._scalar(
            f"SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = '{table}'::regclass"
        )
        # Re-validating a foreign key reads the whole table: only for loads at least half the
        # size of what the table already holds.
        if held is not None and int(held) > 2 * expected_rows:
            return None
        bulk.execute(self._conn, f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")
        fresh = bool(self._scalar(f"SELECT NOT EXISTS (SELECT 1 FROM {table})"))
        keys = self._pairs(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            f"WHERE conrelid = '{table}'::regclass AND contype = 'f' ORDER BY conname"
        )
        indexes: list[tuple[str, str]] = []
        primary_key: tuple[str, str] | None = None
        if fresh:
            indexes = self._pairs(
                "SELECT i.relname, pg_get_indexdef(x.indexrelid) FROM pg_index x "
                "JOIN pg_class i ON i.oid = x.indexrelid "
                f"WHERE x.indrelid = '{table}'::regclass AND NOT x.indisprimary "
                "AND NOT x.indisunique AND NOT EXISTS "
                "(SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid) "
                "ORDER BY i.relname"
            )
            # A primary key no foreign key points at (statements, labels) is built again from
            # the loaded rows in one sort, which also re-checks its uniqueness.
            found = self._pairs(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                f"WHERE conrelid = '{table}'::regclass AND contype = 'p' AND NOT EXISTS "
                "(SELECT 1 FROM pg_constraint f "
                f"WHERE f.contype = 'f' AND f.confrelid = '{table}'::regclass)"
            )
            primary_key = found[0] if found else None
        for name, _ in keys:
            bulk.execute(self._conn, f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        for name, _ in indexes:
            bulk.execute(self._conn, f'DROP INDEX "{name}"')
        if primary_key is not None:
            bulk.execute(self._conn, f'ALTER TABLE {table} DROP CONSTRAINT "{primary_key[0]}"')
        return BulkState(foreign_keys=keys, indexes=indexes, primary_key=primary_key, fresh=fresh)

    def end_bulk(self, table: str) -> None:
        """Rebuild what ``begin_bulk`` took off ``table``; commit when no other bulk is open.

        In a fresh load (``begin_fresh``) this waits for ``finish_fresh``.
        """
        if self._fresh:
            return
        state = self._bulk.pop(table, None)
        if state is None:
            return
        with self._lock:
            try:
                self._rebuild(table, state)
                if not self._bulk:
                    with self.times.timed(f"commit:{table}"):
                        self._commit()
            except BaseException:
                self._rollback()
                raise

    def _rebuild(self, table: str, state: BulkState) -> None:
        timed = self.times.timed
        if self.backend == "postgresql" and (state.indexes or state.primary_key):
            # The covering review index of 6M statements sorts ~700 MB: in memory, not merged
            # from disk (a server-side, transaction-long setting).
            bulk.execute(self._conn, "SET LOCAL maintenance_work_mem = '1GB'")
        if state.primary_key is not None:
            name, definition = state.primary_key
            with timed(f"primary_key:{table}"):
                bulk.execute(
                    self._conn, f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'
                )
        if state.indexes:
            with timed(f"indexes:{table}"):
                for _, sql in state.indexes:
                    bulk.execute(self._conn, sql)
        if state.foreign_keys:
            with timed(f"foreign_keys:{table}"):
                for name, definition in state.foreign_keys:
                    bulk.execute(
                        self._conn,
                        f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition} NOT VALID',
                    )
                    self._validate_key(table, name, definition)

    def _validate_key(self, table: str, name: str, definition: str) -> None:
        """``VALIDATE CONSTRAINT``: one anti-join of the table against the key's parent.

        For the keys of ``IN_KEY_ORDER`` the check runs as a merge join of the table's index on
        the key (just rebuilt) with the parent's primary key, instead of hashing the whole parent
        again for every child table: 1M labels 1.1-1.8 s → 0.6-0.7 s, 1M limit-history rows
        1.3-1.5 → 0.7-0.8, 6M statements 2.3-2.5 → 2.2. Elsewhere (accounts → customers, whose
        rows are not in customer order) the index walk would visit the table's pages out of
        order, and the hash join stays (1.5-1.7 s against 1.8-1.9 merging).
        """
        column = _key_column(definition)
        merge = (
            column is not None
            and (table, column) in IN_KEY_ORDER
            and self._leads_an_index(table, column)
        )
        if merge:
            before = str(self._scalar("SELECT current_setting('enable_hashjoin')"))
            bulk.execute(self._conn, "SET LOCAL enable_hashjoin = off")
        bulk.execute(self._conn, f'ALTER TABLE {table} VALIDATE CONSTRAINT "{name}"')
        if merge:
            # Not after a failed check: the transaction is aborted and rolls back, setting too.
            bulk.execute(self._conn, f"SET LOCAL enable_hashjoin = {before}")

    def _leads_an_index(self, table: str, column: str) -> bool:
        return bool(
            self._scalar(
                "SELECT EXISTS (SELECT 1 FROM pg_index x JOIN pg_attribute a"
                " ON a.attrelid = x.indrelid AND a.attnum = x.indkey[0]"
                f" WHERE x.indrelid = '{table}'::regclass AND a.attname = '{column}')"
            )
        )

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
                    added = int(self._scalar("SELECT changes()"))
            except BaseException:
                self._rollback()
                raise
            if began:
                self.end_bulk("limit_history")
            elif not self._bulk:
                self._commit()
        return max(added, 0)

    # -- look-ups ------------------------------------------------------------------------------

    def existing(self, table: str, column: str, values: pl.Series) -> pl.Series:
        """Which of ``values`` are already in ``table.column`` (for parents outside the import)."""
        values = values.drop_nulls().unique()
        if values.len() == 0:
            return pl.Series(column, [], dtype=values.dtype)
        with self._lock:
            opened = not self._open
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
                if opened and not self._bulk:
                    self._commit()
            except BaseException:
                self._rollback()
                raise
        series = pl.from_arrow(found.column("v"))
        assert isinstance(series, pl.Series)
        return series.alias(column).cast(values.dtype)

    # -- helpers -------------------------------------------------------------------------------

    def _scalar(self, sql: str) -> Any:
        rows = bulk.read_arrow(self._conn, sql).to_pylist()
        return next(iter(rows[0].values())) if rows else None

    def _pairs(self, sql: str) -> list[tuple[str, str]]:
        table = bulk.read_arrow(self._conn, sql)
        return [
            (str(a), str(b))
            for a, b in zip(table.column(0).to_pylist(), table.column(1).to_pylist(), strict=True)
        ]
