"""A query's rows as a Polars frame of a given schema, without SQLAlchemy's row layer.

Bulk reads skip the Python row objects: on SQLite the driver's cursor (``:name`` parameters are
native there), on PostgreSQL ``COPY (query) TO STDOUT`` read by Polars' CSV reader, so the
server formats the rows on its own core. :func:`adbc_frame` does the same on an ADBC
connection (``cardpilot.store.bulk``), which moves whole Arrow batches in native code.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

import polars as pl
from sqlalchemy import Connection, Engine, TextClause, text

from cardpilot.store.bulk import bind_named, read_arrow_whole

# A frame's column names and types, in the order of the query's columns.
FrameSchema = Mapping[str, pl.DataType]
# A query (``:name`` parameters) read as a frame of a schema: what the chunk readers take.
Fetch = Callable[[str, Mapping[str, Any], FrameSchema], pl.DataFrame]

Chunk = TypeVar("Chunk")

_PARAM = re.compile(r"(?<![:\w]):(\w+)")


def query_frame(
    conn: Connection, sql: str | TextClause, params: Mapping[str, Any], schema: FrameSchema
) -> pl.DataFrame:
    """Run ``sql`` on ``conn`` and return its rows as a frame of ``schema`` (by position)."""
    if isinstance(sql, str) and conn.dialect.name == "sqlite":
        return _sqlite_frame(conn, sql, params, schema)
    if isinstance(sql, str) and conn.dialect.name == "postgresql":
        return _postgres_frame(conn, sql, params, schema)
    statement = text(sql) if isinstance(sql, str) else sql
    rows = conn.execute(statement, dict(params)).fetchall()
    sqlite = conn.dialect.name == "sqlite"
    return rows_frame([tuple(r) for r in rows], schema, dates_as_text=sqlite)


def query_rows(conn: Connection, sql: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Run ``sql`` on ``conn`` and return its rows as dicts by column name, values as the
    driver gives them (SQLite: dates as ISO text). On SQLite through the driver's own cursor:
    a one-account read makes a dozen small queries, and SQLAlchemy's result layer costs more
    than they do. Parameters bind as they do through SQLAlchemy there (the driver's own
    adapters: a ``datetime`` as ``str(value)``, a ``date`` as ``YYYY-MM-DD``)."""
    if conn.dialect.name != "sqlite":
        return [dict(r) for r in conn.execute(text(sql), dict(params)).mappings()]
    values = {k: _sqlite_value(v) for k, v in params.items()}
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        found = cursor.execute(sql, values)
        names = [d[0] for d in found.description]
        return [dict(zip(names, r, strict=True)) for r in found.fetchall()]
    finally:
        cursor.close()


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat(" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def rows_frame(
    rows: list[tuple[Any, ...]], schema: FrameSchema, *, dates_as_text: bool
) -> pl.DataFrame:
    """Python rows as a frame of ``schema``; ``dates_as_text``: SQLite's ISO date text."""
    raw = {n: pl.String() if (t == pl.Date() and dates_as_text) else t for n, t in schema.items()}
    frame = pl.DataFrame(rows, schema=raw, orient="row", infer_schema_length=None)
    if dates_as_text:
        dates = [n for n, t in schema.items() if t == pl.Date()]
        frame = frame.with_columns(pl.col(n).str.slice(0, 10).str.to_date() for n in dates)
    return frame


def _sqlite_frame(
    conn: Connection, sql: str, params: Mapping[str, Any], schema: FrameSchema
) -> pl.DataFrame:
    values = {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in params.items()}
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        rows = cursor.execute(sql, values).fetchall()
    finally:
        cursor.close()
    return rows_frame(rows, schema, dates_as_text=True)


def _postgres_frame(
    conn: Connection, sql: str, params: Mapping[str, Any], schema: FrameSchema
) -> pl.DataFrame:
    query = _PARAM.sub(lambda m: f"%({m.group(1)})s", sql)
    buffer = io.BytesIO()
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(f"COPY ({query}) TO STDOUT (FORMAT csv)", dict(params)) as copy:
            for block in copy:
                buffer.write(block)
    finally:
        cursor.close()
    if buffer.tell() == 0:
        return pl.DataFrame(schema=dict(schema))
    buffer.seek(0)
    raw = {n: pl.String() if t in (pl.Date(), pl.Boolean()) else t for n, t in schema.items()}
    frame = pl.read_csv(buffer, has_header=False, new_columns=list(schema), schema=raw)
    fixes = []
    for name, dtype in schema.items():
        if dtype == pl.Date():
            fixes.append(pl.col(name).str.to_date())
        elif dtype == pl.Boolean():
            fixes.append(pl.col(name) == "t")
    return frame.with_columns(fixes) if fixes else frame


def adbc_frame(
    connection: Any, sql: str, params: Mapping[str, Any], schema: FrameSchema
) -> pl.DataFrame:
    """The rows of ``sql`` (``:name`` parameters) on an ADBC connection as a frame of
    ``schema``, columns by position.

    SQLite hands dates back as ISO text (timestamps as text whose first ten characters are the
    date) and booleans as 0/1; PostgreSQL as typed values. Both become ``schema``'s types.
    """
    statement, values = bind_named(connection, sql, params)
    table = read_arrow_whole(connection, statement, values)
    names = list(schema)
    if table.num_rows == 0:
        return pl.DataFrame(schema=dict(schema))
    frame = pl.from_arrow(table.rename_columns(names))
    assert isinstance(frame, pl.DataFrame)
    exprs = []
    for name, dtype in schema.items():
        current = frame.schema[name]
        column = pl.col(name)
        if dtype == pl.Date() and current in (pl.String(), pl.Utf8()):
            exprs.append(column.str.slice(0, 10).str.to_date("%Y-%m-%d").alias(name))
        elif dtype == pl.Boolean() and current != pl.Boolean():
            exprs.append(column.cast(pl.Int8).cast(pl.Boolean).alias(name))
        elif current != dtype:
            exprs.append(column.cast(dtype).alias(name))
        else:
            exprs.append(column)
    return frame.select(exprs)


def keyset_chunks(
    db: Engine,
    first_query: str,
    schema: FrameSchema,
    chunk_rows: int,
    read_rest: Callable[[Connection, pl.DataFrame, str, str], Chunk],
) -> Iterator[Chunk]:
    """Chunks of rows in ``account_id`` order, ``chunk_rows`` at a time (keyset paging):
    ``first_query`` reads a page (``:after``, the last id of the page before; ``:n``),
    ``read_rest(conn, page, first id, last id)`` reads the rest of the chunk on the same
    connection. No connection is held while a chunk is used."""
    after = ""
    while True:
        with db.connect() as conn:
            page = query_frame(conn, first_query, {"after": after, "n": chunk_rows}, schema)
            if page.height == 0:
                return
            first, last = page["account_id"][0], page["account_id"][-1]
            chunk = read_rest(conn, page, first, last)
        after = last
        yield chunk
