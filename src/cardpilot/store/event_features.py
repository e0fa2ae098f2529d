"""The accounts' running features in ``event_account_features``, written and read column-wise.

The consumer holds the states as a frame (``events.feature_frames.STATE_SCHEMA``); here that
frame becomes the table's rows (times and days as the text the driver stores, the two lists
as compact text, the derived figures worked out over the frame) and back. No value goes
through an object per account.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import polars as pl
from sqlalchemy import Connection, select

from cardpilot.events.feature_frames import STATE_SCHEMA, derived_columns
from cardpilot.store.event_models import EventAccountFeatures
from cardpilot.store.value_lists import one_of

# The columns written, in the order the rows are built.
FEATURE_COLUMNS = (
    *STATE_SCHEMA,
    "utilisation_bp",
    "spend_ratio_bp",
    "payment_days_before_due",
)
_TIMES = ("last_occurred_at", "statement_at", "last_contact_at")


def _month_text(index: pl.Expr) -> pl.Expr:
    return pl.concat_str(
        (index // 12).cast(pl.String).str.zfill(4),
        pl.lit("-"),
        (index % 12 + 1).cast(pl.String).str.zfill(2),
    )


def _lists_as_text() -> list[pl.Expr]:
    spend = pl.element().struct
    recent = pl.element().struct
    return [
        pl.col("spend_by_month")
        .list.eval(
            pl.concat_str(
                _month_text(spend.field("month")),
                pl.lit(":"),
                spend.field("amount").cast(pl.String),
            )
        )
        .list.join(" "),
        pl.col("recent")
        .list.eval(
            pl.concat_str(
                recent.field("at").dt.epoch("us").cast(pl.String),
                recent.field("balance").cast(pl.String),
                recent.field("paid").cast(pl.String),
                recent.field("cash").cast(pl.Int8).cast(pl.String),
                separator=":",
            )
        )
        .list.join(" "),
    ]


def driver_frame(frame: pl.DataFrame, dialect: str) -> pl.DataFrame:
    """``frame`` with its times and days as the driver takes them: SQLite's as SQLAlchemy's
    text for them; PostgreSQL's as they are (its binary COPY sends them as they are)."""
    if dialect == "postgresql":
        return frame
    when = "%Y-%m-%d %H:%M:%S%.6f"
    return frame.with_columns(
        pl.col(pl.Datetime).dt.strftime(when), pl.col(pl.Date).dt.strftime("%Y-%m-%d")
    )


def feature_frame(states: pl.DataFrame, months: int, dialect: str) -> pl.DataFrame:
    """``states`` as ``event_account_features`` columns (``FEATURE_COLUMNS``), each value as
    the driver takes it (``driver_frame``); the two lists and the first month as their text."""
    frame = states.with_columns(
        _month_text(pl.col("first_month")).alias("first_month"), *_lists_as_text()
    )
    # ``derived_columns`` keeps the states' order: its columns go alongside, not through a join.
    derived = derived_columns(states, months).drop("account_id")
    return driver_frame(frame.hstack(derived).select(FEATURE_COLUMNS), dialect)


def driver_rows(frame: pl.DataFrame) -> list[tuple[Any, ...]]:
    """``frame``'s rows as tuples of Python values, built column by column: what
    ``DataFrame.rows`` gives, at about half its cost."""
    return list(zip(*(column.to_list() for column in frame.get_columns()), strict=True))


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _lists_from_text(frame: pl.DataFrame) -> pl.DataFrame:
    def items(column: str) -> pl.Expr:
        return (
            pl.col(column)
            .fill_null("")
            .str.split(" ")
            .list.eval(pl.element().filter(pl.element() != "").str.split(":"))
        )

    part = pl.element().list.get
    spend = pl.struct(
        month=(
            part(0).str.slice(0, 4).cast(pl.Int32) * 12 + part(0).str.slice(5, 2).cast(pl.Int32) - 1
        ),
        amount=part(1).cast(pl.Int64),
    )
    recent = pl.struct(
        at=part(0).cast(pl.Int64).cast(pl.Datetime("us")).dt.replace_time_zone("UTC"),
        balance=part(1).cast(pl.Int64),
        paid=part(2).cast(pl.Int64),
        cash=part(3) == "1",
    )
    first = pl.col("first_month")
    return frame.with_columns(
        items("spend_by_month").list.eval(spend),
        items("recent").list.eval(recent),
        (first.str.slice(0, 4).cast(pl.Int32) * 12 + first.str.slice(5, 2).cast(pl.Int32) - 1),
    )


def read_features(conn: Connection, account_ids: Iterable[str] | None = None) -> pl.DataFrame:
    """The stored states of ``account_ids`` that have any (all when None), ``STATE_SCHEMA``."""
    f = EventAccountFeatures.__table__.c
    query = select(*(f[c] for c in STATE_SCHEMA))
    if account_ids is None:
        batches = [conn.execute(query.order_by(f.account_id)).all()]
    else:
        ids = sorted(account_ids)
        batches = [conn.execute(query.where(one_of(conn, f.account_id, ids))).all()] if ids else []
    rows = [r for batch in batches for r in batch]
    if not rows:
        return pl.DataFrame(schema=STATE_SCHEMA)
    columns = {c: [r[n] for r in rows] for n, c in enumerate(STATE_SCHEMA)}
    for c in _TIMES:
        columns[c] = [_utc(v) for v in columns[c]]
    text = dict.fromkeys(("spend_by_month", "recent", "first_month"), pl.String())
    frame = pl.DataFrame(columns, schema={**STATE_SCHEMA, **text})
    return _lists_from_text(frame).cast(STATE_SCHEMA)  # type: ignore[arg-type]
