"""One account read as the review reads a chunk of them: for explaining its decision
(:func:`account_chunk`), and for deciding it now (:func:`review_chunk`, the HTTP API).

The same columns and statement window as ``cardpilot.store.account_chunks``, for one account id
(the review's chunks start from the first account, which one account must not wait for).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import polars as pl
from sqlalchemy import Engine

from cardpilot.store.account_chunks import (
    ACCOUNT_COLUMNS,
    NO_CYCLE,
    REVIEW_STATEMENT_COLUMNS,
    AccountChunk,
    ChunkFrames,
    read_chunks_with,
    statement_window_start,
)
from cardpilot.store.frame_reads import FrameSchema, query_frame


def account_chunk(
    db: Engine, account_id: str, as_of: dt.date, *, credit_limit_minor: int | None = None
) -> AccountChunk | None:
    """The account and its statements of the window before ``as_of`` as a one-account chunk
    (None: no such account). ``credit_limit_minor``: the limit to read it with (a decision's
    old limit, when the decision has changed the account's limit since)."""
    params = {"a": account_id, "as_of": as_of, "since": statement_window_start(as_of)}
    with db.connect() as conn:
        accounts = query_frame(
            conn,
            "SELECT a.account_id, a.customer_id, a.credit_limit_minor, a.open_date, a.status,"
            " a.currency, a.last_review_on, c.birth_year, c.education, c.annual_income_minor"
            " FROM accounts a LEFT JOIN customers c ON c.customer_id = a.customer_id"
            " WHERE a.account_id = :a",
            {"a": account_id},
            ACCOUNT_COLUMNS,
        )
        statements = query_frame(
            conn,
            f"SELECT {', '.join(REVIEW_STATEMENT_COLUMNS)} FROM statements"
            " WHERE account_id = :a AND cycle_date <= :as_of AND cycle_date >= :since",
            params,
            REVIEW_STATEMENT_COLUMNS,
        )
    if not accounts.height:
        return None
    if credit_limit_minor is not None:
        accounts = accounts.with_columns(
            pl.lit(credit_limit_minor, pl.Int64).alias("credit_limit_minor")
        )
    # Re-scoring reads neither: the decision itself records what a change or a hold made of it.
    accounts = accounts.with_columns(
        pl.lit(None, pl.Date).alias("last_limit_change_on"),
        pl.lit(None, pl.Date).alias("increase_hold_until"),
    )
    frames = ChunkFrames(
        statements=statements,
        accounts=accounts.select(
            "account_id", "customer_id", "credit_limit_minor", "open_date", "status", "currency"
        ),
        customers=accounts.select("customer_id", "birth_year", "education", "annual_income_minor"),
    )
    return AccountChunk(account_id, account_id, accounts, frames, skipped=0, seen=1)


def review_chunk(
    db: Engine, account_id: str, as_of: dt.date, cycle_id: str = NO_CYCLE
) -> AccountChunk | None:
    """The account as a one-account review chunk, read by the review's own reader (its limit
    changes, holds and, for a ``cycle_id``, whether the cycle may decide it: an account it may
    not decide is in the chunk's skipped counts, not its accounts). None: no such account."""
    sqlite = db.dialect.name == "sqlite"
    with db.connect() as conn:

        def fetch(sql: str, params: Mapping[str, Any], schema: FrameSchema) -> pl.DataFrame:
            return query_frame(conn, sql, params, schema)

        chunks = read_chunks_with(
            fetch,
            lambda: None,
            sqlite,
            as_of=as_of,
            cycle_id=cycle_id,
            chunk_rows=1,
            only=account_id,
        )
        return next(iter(chunks), None)
