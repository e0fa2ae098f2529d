"""PostgreSQL bulk loads as binary ``COPY`` encoded by pgpq, sent over psycopg.

The import's loader (:class:`cardpilot.store.arrow_loading.ArrowStoreLoader`) runs one
transaction of its own over one connection: statements, small reads, and Arrow tables written
into store and temporary tables. On PostgreSQL this module is that connection. ADBC's driver
encodes binary ``COPY`` value by value (6,000,000 statement rows: 3.0 CPU-s of the client);
pgpq encodes whole Arrow columns (0.5 CPU-s, 0.9 with psycopg sending them), and the client's
CPU is what the import waits for while the server loads. The rows written are the same: the
Arrow values in PostgreSQL's binary format, each cast first to its column's own type.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

# What the loader's tables and reads hold, by PostgreSQL type name (``format_type`` without
# modifiers) and back. A type missing here is an error naming it, not a silent guess.
_ARROW_OF_PG: dict[str, pa.DataType] = {
    "smallint": pa.int16(),
    "integer": pa.int32(),
    "bigint": pa.int64(),
    "boolean": pa.bool_(),
    "real": pa.float32(),
    "double precision": pa.float64(),
    "text": pa.string(),
    "character varying": pa.string(),
    "character": pa.string(),
    "name": pa.string(),
    '"char"': pa.string(),
    "bytea": pa.binary(),
    "date": pa.date32(),
    "timestamp with time zone": pa.timestamp("us", "UTC"),
    "timestamp without time zone": pa.timestamp("us"),
}

# psycopg's type codes (OIDs) of result columns, for reads.
_OID_NAMES = {
    16: "boolean",
    17: "bytea",
    18: '"char"',
    19: "name",
    20: "bigint",
    21: "smallint",
    23: "integer",
    25: "text",
    26: "bigint",  # oid
    700: "real",
    701: "double precision",
    1042: "character",
    1043: "character varying",
    1082: "date",
    1114: "timestamp without time zone",
    1184: "timestamp with time zone",
}

_TABLE_COLUMNS = (
    "SELECT a.attname, format_type(a.atttypid, NULL) FROM pg_attribute a "
    "WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum"
)

_POSITIONAL = re.compile(r"\$\d+")


def pg_type_of(arrow_type: pa.DataType) -> str:
    """The column type a new (temporary) table gets for ``arrow_type``."""
    if pa.types.is_dictionary(arrow_type):
        return pg_type_of(arrow_type.value_type)
    if (
        pa.types.is_string(arrow_type)
        or pa.types.is_large_string(arrow_type)
        or pa.types.is_string_view(arrow_type)
    ):
        return "text"
    if (
        pa.types.is_binary(arrow_type)
        or pa.types.is_large_binary(arrow_type)
        or pa.types.is_binary_view(arrow_type)
    ):
        return "bytea"
    if pa.types.is_timestamp(arrow_type):
        return "timestamp with time zone" if arrow_type.tz else "timestamp without time zone"
    for name, known in _ARROW_OF_PG.items():
        if known == arrow_type:
            return name
    if pa.types.is_int8(arrow_type) or pa.types.is_uint8(arrow_type):
        return "smallint"
    if pa.types.is_uint16(arrow_type):
        return "integer"
    if pa.types.is_uint32(arrow_type):
        return "bigint"
    raise TypeError(f"no PostgreSQL column type for Arrow {arrow_type}")


def _arrow_of(pg_type: str, where: str) -> pa.DataType:
    try:
        return _ARROW_OF_PG[pg_type]
    except KeyError:
        raise TypeError(f"{where}: PostgreSQL type {pg_type!r} has no Arrow type here") from None


def _sendable(column: pa.ChunkedArray, target: pa.DataType) -> pa.ChunkedArray:
    """``column`` as ``target`` in a layout pgpq encodes (it has no binary views)."""
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    if pa.types.is_timestamp(target) and pa.types.is_timestamp(column.type):
        # Both kinds are microseconds since 2000-01-01 in binary COPY: only the unit matters.
        wanted = pa.timestamp("us", column.type.tz)
        return column if column.type == wanted else column.cast(wanted)
    kind = column.type
    if pa.types.is_binary(target):
        if pa.types.is_binary_view(kind) or pa.types.is_string_view(kind):
            return column.cast(pa.large_binary())
        if pa.types.is_large_binary(kind):
            return column
    if pa.types.is_string(target) and (
        pa.types.is_large_string(kind) or pa.types.is_string_view(kind)
    ):
        return column  # pgpq encodes both as text
    return column if kind == target else pc.cast(column, target)


class CopyConnection:
    """One psycopg connection in autocommit mode: the caller sends ``BEGIN`` … ``COMMIT``."""

    def __init__(self, connection: Any) -> None:
        self._connection = connection
        self._columns: dict[str, list[tuple[str, str]]] = {}

    def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> int:
        """Run one statement; the row count the server reports (-1 when it reports none)."""
        with self._connection.cursor() as cursor:
            cursor.execute(_placeholders(sql, parameters), parameters or None)
            return int(cursor.rowcount) if cursor.rowcount is not None else -1

    def read_arrow(self, sql: str, parameters: Sequence[Any] | None = None) -> pa.Table:
        """The result of ``sql`` as an Arrow table, columns typed by their PostgreSQL types."""
        with self._connection.cursor() as cursor:
            cursor.execute(_placeholders(sql, parameters), parameters or None)
            description = cursor.description or []
            rows = cursor.fetchall() if description else []
        names = [column.name for column in description]
        types = [
            _arrow_of(_OID_NAMES.get(column.type_code, f"oid {column.type_code}"), column.name)
            for column in description
        ]
        values = list(zip(*rows, strict=True)) if rows else [() for _ in names]
        arrays = [pa.array(list(v), type=t) for v, t in zip(values, types, strict=True)]
        return pa.table(arrays, names=names)

    def table_columns(self, table: str) -> list[tuple[str, str]]:
        """``table``'s columns and their types (cached: the loader's tables keep their shape)."""
        if table not in self._columns:
            with self._connection.cursor() as cursor:
                cursor.execute(_TABLE_COLUMNS, (table,))
                self._columns[table] = [(str(n), str(t)) for n, t in cursor.fetchall()]
        return self._columns[table]

    def ingest(
        self,
        table: str,
        data: pa.Table,
        *,
        mode: str = "append",
        temporary: bool = False,
        batch_rows: int = 20_000,
    ) -> int:
        """Write ``data`` into ``table`` by binary ``COPY``; ``mode`` ``append`` (the table
        exists; columns by name, each cast to its column's type) or ``replace`` (a new table
        of ``data``'s columns, dropped first if it exists). Returns the rows written."""
        if mode == "replace":
            self._create(table, data.schema, temporary=temporary)
            target = {f.name: _arrow_of(pg_type_of(f.type), f.name) for f in data.schema}
        elif mode == "append":
            types = dict(self.table_columns(table))
            missing = [n for n in data.column_names if n not in types]
            if missing:
                raise KeyError(f"{table} has no column {missing[0]!r}")
            target = {n: _arrow_of(types[n], f"{table}.{n}") for n in data.column_names}
        else:
            raise ValueError(f"unsupported ingest mode {mode!r}")
        data = pa.table(
            [_sendable(data[n], target[n]) for n in data.column_names], names=data.column_names
        )
        rows = int(data.num_rows)
        if rows:
            self._copy(table, data, batch_rows)
        return rows

    def _create(self, table: str, schema: pa.Schema, *, temporary: bool) -> None:
        columns = ", ".join(f"{_quote(f.name)} {pg_type_of(f.type)}" for f in schema)
        scope = "pg_temp." if temporary else ""
        self.execute(f"DROP TABLE IF EXISTS {scope}{_quote(table)}")
        kind = "TEMPORARY TABLE" if temporary else "TABLE"
        self.execute(f"CREATE {kind} {_quote(table)} ({columns})")
        self._columns.pop(table, None)

    def _copy(self, table: str, data: pa.Table, batch_rows: int) -> None:
        from pgpq import ArrowToPostgresBinaryEncoder

        columns = ", ".join(_quote(name) for name in data.column_names)
        encoder = ArrowToPostgresBinaryEncoder(data.schema)
        statement = f"COPY {table} ({columns}) FROM STDIN (FORMAT BINARY)"
        with self._connection.cursor() as cursor, cursor.copy(statement) as copy:
            copy.write(encoder.write_header())
            # Batches of some thousand rows: the server parses one while the next is encoded.
            for batch in data.to_batches(max_chunksize=batch_rows):
                chunk = encoder.write_batch(batch)
                if chunk:
                    copy.write(chunk)
            copy.write(encoder.finish())

    def close(self) -> None:
        self._connection.close()


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _placeholders(sql: str, parameters: Sequence[Any] | None) -> str:
    """``$n`` (the bulk driver's style, in order of appearance) as psycopg's ``%s``."""
    if not parameters:
        return sql
    return _POSITIONAL.sub("%s", sql.replace("%", "%%"))


@contextmanager
def copy_connection(conninfo: str) -> Iterator[CopyConnection]:
    """A :class:`CopyConnection` on ``conninfo`` (a libpq URI); a transaction still open on
    exit is rolled back, and the connection closed."""
    import psycopg

    connection = psycopg.connect(conninfo, autocommit=True)
    wrapped = CopyConnection(connection)
    try:
        yield wrapped
    finally:
        try:
            wrapped.execute("ROLLBACK")
        except Exception:  # nothing was open: the caller committed
            pass
        finally:
            wrapped.close()


def copy_arrow(cursor: Any, table: str, data: pa.Table, types: Sequence[str]) -> None:
    """``data`` into ``table`` by binary ``COPY`` on a psycopg ``cursor`` (the caller's
    transaction), each column cast first to the PostgreSQL type of the same position in
    ``types`` (``format_type`` names without modifiers)."""
    from pgpq import ArrowToPostgresBinaryEncoder

    names = data.column_names
    targets = [_arrow_of(t, f"{table}.{n}") for n, t in zip(names, types, strict=True)]
    data = pa.table(
        [_sendable(data[n], t) for n, t in zip(names, targets, strict=True)], names=names
    )
    encoder = ArrowToPostgresBinaryEncoder(data.schema)
    columns = ", ".join(_quote(name) for name in names)
    with cursor.copy(f"COPY {table} ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.write(encoder.write_header())
        for batch in data.to_batches():
            chunk = encoder.write_batch(batch)
            if chunk:
                copy.write(chunk)
        copy.write(encoder.finish())
