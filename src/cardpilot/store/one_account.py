"""One account read as the review reads a chunk of them: for explaining its decision
(:func:`account_chunk`), and for deciding it now (:func:`review_chunk`, the HTTP API), or as
plain rows (:func:`account_rows`: the HTTP API's preview, a few indexed look-ups and no frames).

The same columns and statement window as ``cardpilot.store.account_chunks``, for one account id
(the review's chunks start from the first account, which one account must not wait for).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import polars as pl
from sqlalchemy import Connection, Engine, text

from cardpilot.store.account_chunks import (
    ACCOUNT_COLUMNS,
    NO_CYCLE,
    REVIEW_STATEMENT_COLUMNS,
    REVIEWED_STATUSES,
    AccountChunk,
    ChunkFrames,
    read_chunks_with,
    statement_window_start,
)
from cardpilot.store.frame_reads import FrameSchema, query_frame, query_rows
from cardpilot.store.watch_actions import HOLDS_IN_RANGE


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


@dataclass(frozen=True)
class AccountRows:
    """One account as the review's reader sees it outside any cycle (``review_chunk`` with
    ``NO_CYCLE``), as plain rows: ``account`` has the columns of ``ACCOUNT_COLUMNS`` plus
    ``last_limit_change_on`` and ``increase_hold_until``; ``statements`` the rows of
    ``REVIEW_STATEMENT_COLUMNS`` in the window before ``as_of``; dates as dates."""

    account: dict[str, Any]
    statements: list[dict[str, Any]]

    @property
    def reviewed(self) -> bool:
        """Of a status the review decides (``review_chunk`` leaves the others out)."""
        return self.account["status"] in REVIEWED_STATUSES


_ACCOUNT_ROW = (
    "SELECT a.account_id, a.customer_id, a.credit_limit_minor, a.open_date, a.status,"
    " a.currency, a.last_review_on, c.birth_year, c.education, c.annual_income_minor"
    " FROM accounts a LEFT JOIN customers c ON c.customer_id = a.customer_id"
    " WHERE a.account_id = :a"
)
_STATEMENT_ROWS = (
    f"SELECT {', '.join(REVIEW_STATEMENT_COLUMNS)} FROM statements"
    " WHERE account_id = :a AND cycle_date <= :as_of AND cycle_date >= :since"
)
_DATES = ("open_date", "last_review_on", "cycle_date", "last_limit_change_on")


def _rows(conn: Connection, sql: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The rows of ``sql``, dates back as dates."""
    rows = query_rows(conn, sql, params)
    for row in rows:
        for name in _DATES:
            if isinstance(row.get(name), str):
                row[name] = dt.date.fromisoformat(row[name][:10])
            elif isinstance(row.get(name), dt.datetime):
                row[name] = row[name].date()
    return rows


def account_rows(conn: Connection, account_id: str, as_of: dt.date) -> AccountRows | None:
    """The account, its last limit change, its hold on increases and its statements of the
    window before ``as_of``, read as ``review_chunk`` reads them (None: no such account)."""
    found = _rows(conn, _ACCOUNT_ROW, {"a": account_id})
    if not found:
        return None
    account = found[0]
    sqlite = conn.dialect.name == "sqlite"
    last_change = (
        "MAX(effective_at)" if sqlite else "CAST(MAX(effective_at) AT TIME ZONE 'UTC' AS DATE)"
    )
    changes = _rows(
        conn,
        f"SELECT {last_change} AS last_limit_change_on FROM limit_history WHERE account_id = :a",
        {"a": account_id},
    )
    account["last_limit_change_on"] = changes[0]["last_limit_change_on"] if changes else None
    holds = conn.execute(text(HOLDS_IN_RANGE), {"lo": account_id, "hi": account_id}).first()
    hold = None if holds is None else holds[1]
    account["increase_hold_until"] = (
        dt.date.fromisoformat(hold[:10]) if isinstance(hold, str) else hold
    )
    params = {"a": account_id, "as_of": as_of, "since": statement_window_start(as_of)}
    return AccountRows(account, _rows(conn, _STATEMENT_ROWS, params))
