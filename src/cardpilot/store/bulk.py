"""Arrow-native bulk reads and writes on the store, through ADBC.

Row-at-a-time drivers (pysqlite's ``executemany``, psycopg's text COPY fed from Python) cost
microseconds per row in the interpreter; ADBC moves whole Arrow batches in native code (SQLite:
prepared statements bound from Arrow; PostgreSQL: binary COPY), which is what million-account
imports and reviews need. The ORM stays the way to touch a few rows; this module is for
columns of millions. The import's own connection on PostgreSQL (:func:`managed_connection`) is
psycopg with pgpq's binary COPY instead (:mod:`cardpilot.store.pg_copy`: whole columns encoded,
about a third of ADBC's client CPU); :func:`execute`, :func:`read_arrow` and :func:`ingest`
take either kind.

A bulk connection is its own transaction: work that must be atomic with other writes runs all
of its statements on this connection (stage with :func:`ingest`, then ``INSERT … SELECT`` /
``UPDATE … FROM`` with :func:`execute`, then commit), never half here and half on SQLAlchemy.

In-memory SQLite stores cannot be shared between two drivers, so :func:`supports_bulk` is
False for them and callers keep their SQLAlchemy path.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy.engine import URL, make_url

from cardpilot.store.db import (
    LOCK_TIMEOUT_SECONDS,
    normalise_url,
    sqlite_bulk_access,
    sqlite_busy_pragma,
)
from cardpilot.store.pg_copy import CopyConnection, copy_connection

# SQLAlchemy's SQLite DateTime reads back exactly this text; timestamps are stored as UTC.
# (Arrow's %S carries the microseconds of a microsecond timestamp: "05.678901".)
_SQLITE_TIMESTAMP = "%Y-%m-%d %H:%M:%S"

# Rows per Arrow batch handed to PostgreSQL's binary COPY (see ``ingest``): small enough that
# the client encodes one batch while the server loads the one before (docs/bench-history.md).
COPY_BATCH_ROWS = 20_000


def supports_bulk(url: str | URL) -> bool:
    parsed = normalise_url(url)
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        return True
    if backend == "sqlite":
        return bool(parsed.database) and parsed.database != ":memory:"
    return False


def _backend(url: str | URL) -> str:
    return normalise_url(url).get_backend_name()


def _libpq_uri(parsed: URL) -> str:
    """The store's PostgreSQL URL as libpq reads it (no SQLAlchemy driver name)."""
    return make_url(parsed).set(drivername="postgresql").render_as_string(hide_password=False)


def _one_library(parsed: URL) -> AbstractContextManager[None]:
    """SQLite: refused while SQLAlchemy has the file open in this process (store/db.py)."""
    if parsed.get_backend_name() == "sqlite":
        return sqlite_bulk_access(parsed.database or "")
    return nullcontext()


@contextmanager
def bulk_connection(url: str | URL) -> Iterator[Any]:
    """An ADBC DB-API connection on the store at ``url`` (autocommit off); closed on exit.

    The caller commits; leaving the block without a commit rolls back.
    """
    parsed = normalise_url(url)
    with _one_library(parsed), _open_bulk(parsed) as connection:
        yield connection


@contextmanager
def _open_bulk(parsed: URL) -> Iterator[Any]:
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        import adbc_driver_sqlite.dbapi as sqlite_dbapi

        connection = sqlite_dbapi.connect(parsed.database)
        with connection.cursor() as cursor:
            # Wait for a writer as the SQLAlchemy engine does (store/db.py). Foreign keys stay
            # unchecked: bulk paths write parents before children themselves. The journal mode
            # (WAL) is a property of the file, set by the engine; ``synchronous`` cannot change
            # inside the transaction ADBC has already opened, and costs one sync per commit.
            for pragma in (sqlite_busy_pragma(LOCK_TIMEOUT_SECONDS), "temp_store=MEMORY"):
                cursor.execute(f"PRAGMA {pragma}")
    elif backend == "postgresql":
        import adbc_driver_postgresql.dbapi as pg_dbapi

        connection = pg_dbapi.connect(_libpq_uri(parsed))
    else:  # pragma: no cover - the store supports these two only
        raise ValueError(f"no bulk driver for {backend!r} stores")
    try:
        yield connection
    finally:
        try:
            connection.rollback()
        finally:
            connection.close()


def _sqlite_friendly(table: pa.Table) -> pa.Table:
    """Timestamps as the UTC text SQLAlchemy reads back; dates are written as ISO text by ADBC."""
    columns = []
    for field, column in zip(table.schema, table.columns, strict=True):
        if pa.types.is_timestamp(field.type):
            utc = column if field.type.tz is None else pc.cast(column, pa.timestamp("us", "UTC"))
            column = pc.strftime(utc.cast(pa.timestamp("us")), format=_SQLITE_TIMESTAMP)
        columns.append(column)
    return pa.table(columns, names=table.column_names)


def ingest(
    connection: Any,
    table: str,
    data: pa.Table | pa.RecordBatchReader,
    *,
    mode: str = "append",
    temporary: bool = False,
) -> int:
    """Write ``data`` into ``table`` (``mode``: append, create, replace, create_append).

    Column names must match the table's; returns the rows written.
    """
    if isinstance(data, pa.RecordBatchReader):
        data = data.read_all()
    if isinstance(connection, CopyConnection):
        return connection.ingest(
            table, data, mode=mode, temporary=temporary, batch_rows=COPY_BATCH_ROWS
        )
    rows = data.num_rows
    source: pa.Table | pa.RecordBatchReader = data
    if _is_sqlite(connection):
        source = _sqlite_friendly(data)
    else:
        if mode in ("append", "create_append"):
            data = _conform(connection, table, data)
        # The driver encodes each batch it is given whole before sending it: one batch of a
        # 300,000-row chunk is encoded while the server waits, then sent while the client
        # waits. Small batches keep both at work.
        source = pa.RecordBatchReader.from_batches(
            data.schema, data.to_batches(max_chunksize=COPY_BATCH_ROWS)
        )
    with connection.cursor() as cursor:
        written = cursor.adbc_ingest(table, source, mode=mode, temporary=temporary)
    return int(written) if written is not None and written >= 0 else rows


def _conform(connection: Any, table: str, data: pa.Table) -> pa.Table:
    """Cast to the table's own column types: binary COPY refuses int64 for an INTEGER column."""
    try:
        target = connection.adbc_get_table_schema(table)
    except Exception:  # a table this connection cannot see yet (created by the ingest itself)
        return data
    wanted = {field.name: field.type for field in target}
    columns = [
        column.cast(wanted[name]) if name in wanted and column.type != wanted[name] else column
        for name, column in zip(data.column_names, data.columns, strict=True)
    ]
    return pa.table(columns, names=data.column_names)


def execute(connection: Any, sql: str, parameters: Sequence[Any] | None = None) -> int:
    """Run one statement on the bulk connection; returns the row count the driver reports."""
    if isinstance(connection, CopyConnection):
        return connection.execute(sql, parameters)
    with connection.cursor() as cursor:
        cursor.execute(sql, parameters)
        return int(cursor.rowcount) if cursor.rowcount is not None else -1


def read_arrow(connection: Any, sql: str, parameters: Sequence[Any] | None = None) -> pa.Table:
    """The result of ``sql`` as one Arrow table (SQLite dates and timestamps come back as text)."""
    if isinstance(connection, CopyConnection):
        return connection.read_arrow(sql, parameters)
    with connection.cursor() as cursor:
        cursor.execute(sql, parameters)
        return cursor.fetch_arrow_table()


def _is_sqlite(connection: Any) -> bool:
    return type(connection).__module__.startswith("adbc_driver_sqlite")


@contextmanager
def managed_connection(url: str | URL, *, lock_timeout: float | None = None) -> Iterator[Any]:
    """A bulk connection in autocommit mode: the caller runs ``BEGIN`` … ``COMMIT`` itself.

    For loads that decide their own transaction boundaries (``BEGIN IMMEDIATE`` to take
    SQLite's write lock up front, one transaction across several tables). On SQLite an ADBC
    connection, with foreign keys enforced as on the SQLAlchemy engine (a pragma that only
    takes effect outside a transaction, hence autocommit) and a large page cache, for index
    builds on millions of rows. On PostgreSQL a :class:`~cardpilot.store.pg_copy.CopyConnection`
    (psycopg, with Arrow written by pgpq's binary ``COPY``): the functions of this module take
    either. A transaction still open on exit is rolled back.

    ``lock_timeout``: how long a statement waits for a lock another connection holds (SQLite's
    write lock, a PostgreSQL table lock) before it fails (default ``LOCK_TIMEOUT_SECONDS``).
    """
    parsed = normalise_url(url)
    seconds = LOCK_TIMEOUT_SECONDS if lock_timeout is None else lock_timeout
    if parsed.get_backend_name() == "postgresql":
        with copy_connection(_libpq_uri(parsed)) as copying:
            copying.execute(f"SET lock_timeout = '{max(1, round(seconds * 1000))}ms'")
            yield copying
        return
    with _one_library(parsed), _open_managed(parsed, seconds) as connection:
        yield connection


@contextmanager
def _open_managed(parsed: URL, lock_timeout: float) -> Iterator[Any]:
    backend = parsed.get_backend_name()
    pragmas: tuple[str, ...] = ()
    if backend == "sqlite":
        import adbc_driver_sqlite.dbapi as sqlite_dbapi

        connection = sqlite_dbapi.connect(parsed.database, autocommit=True)
        pragmas = (
            sqlite_busy_pragma(lock_timeout),
            "foreign_keys=ON",
            "synchronous=NORMAL",
            "temp_store=MEMORY",
            "cache_size=-262144",
        )
    else:  # pragma: no cover - PostgreSQL takes managed_connection's CopyConnection
        raise ValueError(f"no managed ADBC connection for {backend!r} stores")
    try:
        for pragma in pragmas:
            execute(connection, f"PRAGMA {pragma}")
        yield connection
    finally:
        try:
            execute(connection, "ROLLBACK")
        except Exception:  # nothing was open: the caller committed
            pass
        finally:
            connection.close()


_NAMED = re.compile(r"(?<![:\w]):(\w+)")


def bind_named(connection: Any, sql: str, parameters: Mapping[str, Any]) -> tuple[str, list[Any]]:
    """``:name`` parameters as the bulk driver's positional ones (SQLite ``?``, PostgreSQL
    ``$n``), with their values in order. On SQLite dates become ISO text and timestamps the UTC
    text SQLAlchemy reads back (see the module docstring), so comparisons with stored values
    hold; PostgreSQL takes them typed."""
    sqlite = _is_sqlite(connection)
    values: list[Any] = []

    def place(match: re.Match[str]) -> str:
        value = parameters[match.group(1)]
        if sqlite and isinstance(value, dt.datetime):
            utc = value.astimezone(dt.UTC) if value.tzinfo else value
            value = utc.strftime("%Y-%m-%d %H:%M:%S.%f")
        elif sqlite and isinstance(value, dt.date):
            value = value.isoformat()
        values.append(value)
        return "?" if sqlite else f"${len(values)}"

    return _NAMED.sub(place, sql), values


def read_arrow_whole(
    connection: Any, sql: str, parameters: Sequence[Any] | None = None
) -> pa.Table:
    """Like :func:`read_arrow`, but SQLite infers each column's type from the whole result.

    SQLite columns have no declared type the driver trusts: it infers one from the first
    batch, so a column that is NULL there and text later (an unset date, then a set one)
    fails. One batch as large as the result removes that failure mode.
    """
    with connection.cursor() as cursor:
        if _is_sqlite(connection):
            cursor.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(1 << 30)})
        cursor.execute(sql, parameters)
        return cursor.fetch_arrow_table()
