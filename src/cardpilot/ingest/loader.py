"""Bulk loading of checked, store-shaped frames: COPY into PostgreSQL, executemany into SQLite.

Every insert is ``ON CONFLICT DO NOTHING`` on the natural keys, so re-running an import adds
nothing twice and an interrupted import can simply be run again. Each chunk is its own
transaction: memory and lock time stay bounded, and what was loaded stays loaded.

PostgreSQL: the chunk is written as CSV by Polars (native code) into ``COPY`` to a temporary
staging table, then ``INSERT … SELECT … ON CONFLICT DO NOTHING`` moves it into the real table;
the row count of that statement is what was added. SQLite: ``executemany`` of one prepared
``INSERT … ON CONFLICT DO NOTHING`` in large transactions, rows sorted by primary key so the
B-tree grows at its end.

A large load (``begin_bulk``) runs in one transaction per table: PostgreSQL drops the table's
foreign keys for it, and on an empty table (a first load) both stores drop its secondary indexes
and build them again at the end, and PostgreSQL copies straight into the table. A re-run finds
the table non-empty and takes the conflict-safe path.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator, Sequence
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


@dataclass
class _Bulk:
    """What ``begin_bulk`` took off a table, to put back at ``end_bulk``."""

    foreign_keys: list[tuple[str, str]] = field(default_factory=list)  # (name, definition)
    indexes: list[tuple[str, str]] = field(default_factory=list)  # (name, CREATE INDEX …)
    primary_key: tuple[str, str] | None = None  # (name, definition), PostgreSQL leaf tables
    # The table was empty when the load began (and is locked for it): rows go straight in.
    fresh: bool = False


def _table_columns(table: str) -> list[str]:
    return [c.name for c in Base.metadata.tables[table].columns]


def _check_columns(table: str, frame: pl.DataFrame) -> list[str]:
    known = set(_table_columns(table))
    unknown = [c for c in frame.columns if c not in known]
    if unknown:
        raise ValueError(f"{table}: no such columns in the store: {', '.join(unknown)}")
    return list(frame.columns)


class StoreLoader:
    """Loads frames into one store; use as a context manager (it holds one DB connection)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.backend = engine.dialect.name
        self._pooled: Any = None
        self._conn: Any = None
        self._staged: set[str] = set()
        # table → the foreign keys and indexes dropped for the length of a bulk load
        self._bulk: dict[str, _Bulk] = {}
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
        if self._pooled is not None:
            try:
                if exc_type is None:
                    for table in list(self._bulk):
                        self.end_bulk(table)
                else:
                    self._bulk.clear()
                    self._conn.rollback()
                if self.backend == "sqlite":
                    self._conn.execute("PRAGMA cache_size=-2000")
            finally:
                self._pooled.close()
                self._pooled = None
                self._conn = None

    # -- loading -------------------------------------------------------------------------------

    def load(self, table: str, frame: pl.DataFrame) -> int:
        """Insert the rows of ``frame`` not yet in ``table``; return how many were added."""
        if frame.height == 0:
            return 0
        columns = _check_columns(table, frame)
        keys = list(KEYS.get(table, ()))
        if keys:
            frame = frame.sort(keys)
        with self._lock:
            if self.backend == "postgresql":
                return self._load_postgres(table, frame, columns)
            if self.backend == "sqlite":
                return self._load_sqlite(table, frame, columns)
        raise ValueError(f"unsupported store back end: {self.backend}")

    def _load_sqlite(self, table: str, frame: pl.DataFrame, columns: list[str]) -> int:
        sql = (
            f"INSERT INTO {table} ({', '.join(columns)}) "
            f"VALUES ({', '.join('?' for _ in columns)}) ON CONFLICT DO NOTHING"
        )
        rows = _sqlite_values(frame)
        conn = self._conn
        before = conn.total_changes
        try:
            for offset in range(0, rows.height, SQLITE_BATCH_ROWS):
                conn.executemany(sql, rows.slice(offset, SQLITE_BATCH_ROWS).iter_rows())
            if table not in self._bulk:
                conn.commit()
        except BaseException:
            conn.rollback()
            self._bulk.clear()
            raise
        return int(conn.total_changes - before)

    def _stage(self, table: str, columns: list[str]) -> str:
        stage = f"_stage_{table}"
        if table not in self._staged:
            with self._conn.cursor() as cur:
                cur.execute(f"DROP TABLE IF EXISTS {stage}")
                # Same column types as the real table, no constraints: COPY is then a straight
                # append and every check happens once, in the INSERT … SELECT.
                cur.execute(f"CREATE TEMP TABLE {stage} AS SELECT * FROM {table} WITH NO DATA")
            self._staged.add(table)
        return stage

    def _load_postgres(self, table: str, frame: pl.DataFrame, columns: list[str]) -> int:
        conn = self._conn
        cols = ", ".join(columns)
        bulk = self._bulk.get(table)
        try:
            if bulk is not None and bulk.fresh:
                # The table was empty and is locked for this load, and the import rejects keys
                # it has already seen: nothing can conflict, so COPY goes straight into it.
                sql = f"COPY {table} ({cols}) FROM STDIN (FORMAT csv)"
                with conn.cursor() as cur, cur.copy(sql) as copy:
                    for block in _csv_blocks(_postgres_values(frame)):
                        copy.write(block)
                return frame.height
            stage = self._stage(table, columns)
            with conn.cursor() as cur:
                cur.execute(f"TRUNCATE {stage}")
                with cur.copy(f"COPY {stage} ({cols}) FROM STDIN (FORMAT csv)") as copy:
                    for block in _csv_blocks(_postgres_values(frame)):
                        copy.write(block)
                cur.execute(
                    f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {stage} "
                    "ON CONFLICT DO NOTHING"
                )
                added = cur.rowcount
            if table not in self._bulk:
                conn.commit()
        except BaseException:
            conn.rollback()
            self._staged.clear()
            self._bulk.clear()
            raise
        return int(added)

    # -- bulk mode -----------------------------------------------------------------------------

    def begin_bulk(self, table: str, expected_rows: int | None) -> bool:
        """Load ``table`` in one transaction, keys and indexes off; put them back at the end.

        PostgreSQL: a foreign key is checked by a trigger per inserted row, which more than
        doubles the cost of a large load; re-adding the key afterwards validates every row in one
        join instead (PostgreSQL manual, "Populating a Database"). Every parent was already
        checked by the import, so validation is expected to pass.

        Both stores, when the table is empty: its secondary (non-unique) indexes are dropped and
        built again at the end from sorted data, which is faster than growing them row by row,
        and (PostgreSQL) rows are copied straight into the table instead of through a staging
        table, since nothing can conflict with an empty table the import itself keeps free of
        duplicates. The table is locked for the load, and everything comes back (or rolls back)
        in the same transaction, so a failed load leaves the table as it was, indexes included.
        """
        if table in self._bulk:
            return False
        if expected_rows is None or expected_rows < BULK_MIN_ROWS:
            return False
        with self._lock:
            if self.backend == "sqlite":
                return self._begin_bulk_sqlite(table)
            if self.backend == "postgresql":
                return self._begin_bulk_postgres(table, expected_rows)
        return False

    def _begin_bulk_sqlite(self, table: str) -> bool:
        conn = self._conn
        if conn.in_transaction:
            conn.commit()
        # The write lock now, so the table stays empty until this load commits.
        conn.execute("BEGIN IMMEDIATE")
        try:
            empty = conn.execute(f"SELECT NOT EXISTS (SELECT 1 FROM {table})").fetchone()[0]
            if not empty:
                conn.rollback()
                return False
            # Indexes made by CREATE INDEX (autoindexes of keys have no SQL), unique ones kept.
            indexes = [
                (str(name), str(sql))
                for name, sql in conn.execute(
                    "SELECT name, sql FROM sqlite_master "
                    "WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL ORDER BY name",
                    (table,),
                ).fetchall()
                if not str(sql).lstrip().upper().startswith("CREATE UNIQUE")
            ]
            for name, _ in indexes:
                conn.execute(f'DROP INDEX "{name}"')
        except BaseException:
            conn.rollback()
            raise
        self._bulk[table] = _Bulk(indexes=indexes, fresh=True)
        return True

    def _begin_bulk_postgres(self, table: str, expected_rows: int) -> bool:
        conn = self._conn
        try:
            with conn.cursor() as cur:
                cur.execute(
                    "SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = %s::regclass",
                    (table,),
                )
                row = cur.fetchone()
                # Re-validating a foreign key reads the whole table: only for loads at least
                # half the size of what the table already holds.
                if row is not None and row[0] > 2 * expected_rows:
                    conn.rollback()
                    return False
                cur.execute(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")
                cur.execute(f"SELECT NOT EXISTS (SELECT 1 FROM {table})")
                empty_row = cur.fetchone()
                fresh = bool(empty_row is not None and empty_row[0])
                cur.execute(
                    "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                    "WHERE conrelid = %s::regclass AND contype = 'f' ORDER BY conname",
                    (table,),
                )
                keys = [(str(name), str(definition)) for name, definition in cur.fetchall()]
                indexes: list[tuple[str, str]] = []
                primary_key: tuple[str, str] | None = None
                if fresh:
                    cur.execute(
                        "SELECT i.relname, pg_get_indexdef(x.indexrelid) FROM pg_index x "
                        "JOIN pg_class i ON i.oid = x.indexrelid "
                        "WHERE x.indrelid = %s::regclass AND NOT x.indisprimary "
                        "AND NOT x.indisunique AND NOT EXISTS "
                        "(SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid) "
                        "ORDER BY i.relname",
                        (table,),
                    )
                    indexes = [(str(name), str(sql)) for name, sql in cur.fetchall()]
                    # A primary key no foreign key points at (statements, labels) is built again
                    # from the loaded rows in one sort, which also re-checks its uniqueness.
                    cur.execute(
                        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                        "WHERE conrelid = %(t)s::regclass AND contype = 'p' AND NOT EXISTS "
                        "(SELECT 1 FROM pg_constraint f "
                        "WHERE f.contype = 'f' AND f.confrelid = %(t)s::regclass)",
                        {"t": table},
                    )
                    found = cur.fetchone()
                    primary_key = (str(found[0]), str(found[1])) if found else None
                for name, _ in keys:
                    cur.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
                for name, _ in indexes:
                    cur.execute(f'DROP INDEX "{name}"')
                if primary_key is not None:
                    cur.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{primary_key[0]}"')
        except BaseException:
            conn.rollback()
            raise
        self._bulk[table] = _Bulk(
            foreign_keys=keys, indexes=indexes, primary_key=primary_key, fresh=fresh
        )
        return True

    def end_bulk(self, table: str) -> None:
        """Rebuild the indexes, re-add (and validate) the keys ``begin_bulk`` took off; commit."""
        bulk = self._bulk.pop(table, None)
        if bulk is None:
            return
        with self._lock:
            try:
                if self.backend == "sqlite":
                    for _, sql in bulk.indexes:
                        self._conn.execute(sql)
                else:
                    with self._conn.cursor() as cur:
                        if bulk.indexes or bulk.primary_key:
                            cur.execute("SET LOCAL maintenance_work_mem = '256MB'")
                        if bulk.primary_key is not None:
                            name, definition = bulk.primary_key
                            cur.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
                        for _, sql in bulk.indexes:
                            cur.execute(sql)
                        for name, definition in bulk.foreign_keys:
                            cur.execute(
                                f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition} '
                                "NOT VALID"
                            )
                            cur.execute(f'ALTER TABLE {table} VALIDATE CONSTRAINT "{name}"')
                self._conn.commit()
            except BaseException:
                self._conn.rollback()
                self._staged.clear()
                self._bulk.clear()
                raise

    # -- look-ups ------------------------------------------------------------------------------

    def existing(self, table: str, column: str, values: pl.Series) -> pl.Series:
        """Which of ``values`` are already in ``table.column`` (for parents outside the import)."""
        values = values.drop_nulls().unique()
        found: list[Any] = []
        with self._lock:
            self._existing(table, column, values, found)
        return pl.Series(column, found, dtype=values.dtype)

    def _existing(self, table: str, column: str, values: pl.Series, found: list[Any]) -> None:
        cursor = self._conn.cursor()
        placeholder = "%s" if self.backend == "postgresql" else "?"
        try:
            for offset in range(0, values.len(), _ID_LOOKUP_BATCH):
                batch = values.slice(offset, _ID_LOOKUP_BATCH).to_list()
                marks = ", ".join(placeholder for _ in batch)
                cursor.execute(f"SELECT {column} FROM {table} WHERE {column} IN ({marks})", batch)
                found.extend(row[0] for row in cursor.fetchall())
        finally:
            cursor.close()
        if not self._bulk:
            # end the read transaction; a bulk load's own transaction stays open
            self._conn.commit()


def _sqlite_values(frame: pl.DataFrame) -> pl.DataFrame:
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


def _postgres_values(frame: pl.DataFrame) -> pl.DataFrame:
    """Column text as PostgreSQL's CSV COPY reads it (bytea in hex, timestamps with offset)."""
    exprs: list[pl.Expr] = []
    for name, dtype in frame.schema.items():
        col = pl.col(name)
        if dtype == pl.Binary:
            exprs.append(
                pl.when(col.is_null())
                .then(None)
                .otherwise(pl.concat_str(pl.lit("\\x"), col.bin.encode("hex")))
                .alias(name)
            )
        elif isinstance(dtype, pl.Datetime):
            if dtype.time_zone is None:
                col = col.dt.replace_time_zone("UTC")
            exprs.append(col.dt.convert_time_zone("UTC").dt.strftime("%Y-%m-%d %H:%M:%S%.6f+00"))
        else:
            exprs.append(col)
    return frame.select(exprs)


def _csv_blocks(frame: pl.DataFrame, rows: int = 200_000) -> Iterator[bytes]:
    for offset in range(0, frame.height, rows):
        buffer = io.BytesIO()
        frame.slice(offset, rows).write_csv(buffer, include_header=False)
        yield buffer.getvalue()


def load_all(loader: StoreLoader, frames: Sequence[tuple[str, pl.DataFrame]]) -> dict[str, int]:
    """Load tables in the order given (parents first); rows added per table."""
    return {table: loader.load(table, frame) for table, frame in frames}
