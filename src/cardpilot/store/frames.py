"""The portfolio as Polars frames (customers, accounts, statements, labels) for scoring and policy.

Read straight from the store through the SQLAlchemy connection (``pl.read_database`` in Arrow
batches), with the column names and dtypes of CONTRACTS.md, so the same feature code runs on a
store and on a file read by a layout's reader (``cardpilot.domain.portfolio`` holds the shapes).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl
from sqlalchemy import Connection, Engine, bindparam, text

from cardpilot.domain.portfolio import (
    ACCOUNT_SCHEMA,
    CUSTOMER_SCHEMA,
    LABEL_SCHEMA,
    STATEMENT_SCHEMA,
)

_BATCH = 200_000
_ID_BATCH = 10_000


@dataclass(frozen=True)
class PortfolioFrames:
    customers: pl.DataFrame
    accounts: pl.DataFrame
    statements: pl.DataFrame  # sorted by account_id, cycle_date
    labels: pl.DataFrame


def _read(
    engine: Engine,
    table: str,
    schema: dict[str, pl.DataType],
    key: str,
    ids: Sequence[str] | None,
    order: str,
) -> pl.DataFrame:
    base = f"SELECT {', '.join(schema)} FROM {table}"
    batches = (
        [None]
        if ids is None
        else [list(ids[offset : offset + _ID_BATCH]) for offset in range(0, len(ids), _ID_BATCH)]
    )
    frames: list[pl.DataFrame] = []
    with engine.connect() as connection:
        for batch in batches:
            if engine.dialect.name == "postgresql":
                frames.append(_copy_out(connection, base, key, batch, order, schema))
            else:
                frames.append(_rows(connection, base, key, batch, order, schema))
    frames = [f for f in frames if f.height]
    if not frames:
        return pl.DataFrame(schema=schema)
    return _typed(pl.concat(frames, how="vertical_relaxed"), schema)


def _rows(
    connection: Connection,
    base: str,
    key: str,
    batch: list[str] | None,
    order: str,
    schema: dict[str, pl.DataType],
) -> pl.DataFrame:
    # SQLite hands dates back as ISO text and booleans as integers; _typed converts them.
    overrides = {
        name: pl.Utf8() if dtype == pl.Date else pl.Int64() if dtype == pl.Boolean else dtype
        for name, dtype in schema.items()
    }
    if batch is None:
        query = text(f"{base} ORDER BY {order}")
        options = None
    else:
        query = text(f"{base} WHERE {key} IN :ids ORDER BY {order}").bindparams(
            bindparam("ids", expanding=True)
        )
        options = {"parameters": {"ids": batch}}
    return pl.read_database(
        query,
        connection,
        execute_options=options,
        schema_overrides=overrides,
        infer_schema_length=None,
    )


def _copy_out(
    connection: Connection,
    base: str,
    key: str,
    batch: list[str] | None,
    order: str,
    schema: dict[str, pl.DataType],
) -> pl.DataFrame:
    """PostgreSQL sends the rows as CSV through COPY; Polars parses them in native code."""
    raw = connection.connection.driver_connection
    assert raw is not None
    where = ""
    if batch is not None:
        literal = ", ".join("'" + i.replace("'", "''") + "'" for i in batch)
        where = f" WHERE {key} IN ({literal})"
    buffer = io.BytesIO()
    with (
        raw.cursor() as cur,
        cur.copy(
            f"COPY ({base}{where} ORDER BY {order}) TO STDOUT (FORMAT csv, HEADER true)"
        ) as copy,
    ):
        for block in copy:
            buffer.write(block)
    raw.rollback()
    if buffer.tell() == 0:
        return pl.DataFrame(schema=schema)
    buffer.seek(0)
    overrides = {n: (pl.Utf8() if d == pl.Boolean else d) for n, d in schema.items()}
    frame = pl.read_csv(buffer, schema=overrides)
    bools = [n for n, d in schema.items() if d == pl.Boolean]
    return frame.with_columns(pl.col(n) == "t" for n in bools)


def _typed(frame: pl.DataFrame, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    exprs = []
    for name, dtype in schema.items():
        col = pl.col(name)
        current = frame.schema[name]
        if dtype == pl.Date and current == pl.Utf8:
            # SQLite keeps dates as ISO text
            col = col.str.to_date("%Y-%m-%d")
        elif dtype == pl.Boolean and current not in (pl.Boolean, pl.Utf8):
            col = col.cast(pl.Int8).cast(pl.Boolean)
        exprs.append(col.cast(dtype).alias(name))
    return frame.select(exprs)


def read_portfolio_frames(
    engine: Engine, account_ids: Sequence[str] | None = None
) -> PortfolioFrames:
    """Customers, accounts, statements and labels (optionally of ``account_ids`` only)."""
    ids = None if account_ids is None else sorted(set(account_ids))
    accounts = _read(engine, "accounts", ACCOUNT_SCHEMA, "account_id", ids, "account_id")
    customer_ids = None if ids is None else accounts["customer_id"].unique().sort().to_list()
    customers = _read(
        engine, "customers", CUSTOMER_SCHEMA, "customer_id", customer_ids, "customer_id"
    )
    statements = _read(
        engine, "statements", STATEMENT_SCHEMA, "account_id", ids, "account_id, cycle_date"
    )
    labels = _read(
        engine, "performance_labels", LABEL_SCHEMA, "account_id", ids, "account_id, label"
    )
    return PortfolioFrames(customers, accounts, statements, labels)
