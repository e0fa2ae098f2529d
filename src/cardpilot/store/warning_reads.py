"""What ``cardpilot warn run`` reads of the store, one chunk of accounts at a time.

For the accounts of a range (keyset paging in account-id order) of a status that gets
messages: their customers, their statements of the feature window, the payments since their
latest statement (``store.reminder_reads.recent_payments``: the ledger's, and payments never
posted to it), their limit increases and cash advances of the last year, the score each had at
its previous run, and the interventions stored for them (the cool-downs' and the cap's
history)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import polars as pl
from sqlalchemy import Connection, Engine, text

from cardpilot.domain.portfolio import STATEMENT_SCHEMA
from cardpilot.store.account_chunks import statement_window_start
from cardpilot.store.frame_reads import keyset_chunks, query_frame
from cardpilot.store.payments import as_zoned
from cardpilot.store.reminder_reads import REMINDED_STATUSES, recent_payments

EVENT_LOOKBACK_DAYS = 366  # limit increases, cash advances and interventions read back a year

_ACCOUNTS: dict[str, pl.DataType] = {
    "account_id": pl.String(),
    "customer_id": pl.String(),
    "credit_limit_minor": pl.Int64(),
    "open_date": pl.Date(),
    "status": pl.String(),
    "currency": pl.String(),
}
_CUSTOMERS: dict[str, pl.DataType] = {
    "customer_id": pl.String(),
    "birth_year": pl.Int32(),
    "education": pl.String(),
    "annual_income_minor": pl.Int64(),
}
_PREVIOUS: dict[str, pl.DataType] = {"account_id": pl.String(), "previous_score": pl.Float64()}
_HISTORY: dict[str, pl.DataType] = {
    "account_id": pl.String(),
    "rule": pl.String(),
    "cycle_date": pl.Date(),
    "fired_on": pl.Date(),
    "kind": pl.String(),
}


@dataclass
class WarningChunk:
    accounts: pl.DataFrame  # the range's accounts of a status that gets messages
    customers: pl.DataFrame
    statements: pl.DataFrame  # STATEMENT_SCHEMA, the feature window up to as_of
    payments: pl.DataFrame  # account_id, paid_on, amount_minor (since two cycles)
    increases: pl.DataFrame  # account_id, increased_on
    cash_advances: pl.DataFrame  # account_id, advanced_on
    previous: pl.DataFrame  # account_id, previous_score (the latest run before as_of)
    history: pl.DataFrame  # account_id, rule, cycle_date, fired_on, sends
    seen: int  # accounts of the range


def _dates(rows: list[tuple[str, object]], zone: ZoneInfo, name: str) -> pl.DataFrame:
    """``account_id, <name>``: timestamps of the store as days in the issuer's zone."""
    return pl.DataFrame(
        {
            "account_id": [r[0] for r in rows],
            name: [as_zoned(r[1], zone).date() for r in rows],
        },
        schema={"account_id": pl.String(), name: pl.Date()},
    )


def limit_increases(
    conn: Connection, lo: str, hi: str, as_of: dt.date, zone: ZoneInfo
) -> pl.DataFrame:
    """``account_id, increased_on``: the limit increases of the range in the last year."""
    since = dt.datetime.combine(as_of - dt.timedelta(days=EVENT_LOOKBACK_DAYS), dt.time(), zone)
    rows = conn.execute(
        text(
            "SELECT account_id, effective_at FROM limit_history"
            " WHERE account_id BETWEEN :lo AND :hi AND effective_at >= :since"
            " AND old_limit_minor IS NOT NULL AND new_limit_minor > old_limit_minor"
        ),
        {"lo": lo, "hi": hi, "since": since.astimezone(dt.UTC)},
    ).all()
    frame = _dates([(r[0], r[1]) for r in rows], zone, "increased_on")
    return frame.filter(pl.col("increased_on") <= as_of)


def cash_advances(
    conn: Connection, lo: str, hi: str, as_of: dt.date, zone: ZoneInfo
) -> pl.DataFrame:
    """``account_id, advanced_on``: the cash advances of the range in the last year, from the
    ledger (on their business day) and from transactions never posted to it."""
    since_day = as_of - dt.timedelta(days=EVENT_LOOKBACK_DAYS)
    since = dt.datetime.combine(since_day, dt.time(), zone)
    posted = conn.execute(
        text(
            "SELECT account_id, effective_on FROM ledger_postings"
            " WHERE kind = 'cash_advance' AND account_id BETWEEN :lo AND :hi"
            " AND effective_on >= :since AND effective_on <= :as_of"
        ),
        {"lo": lo, "hi": hi, "since": since_day, "as_of": as_of},
    ).all()
    unposted = conn.execute(
        text(
            "SELECT t.account_id, t.posted_at FROM transactions t"
            " WHERE t.kind = 'cash_advance' AND t.account_id BETWEEN :lo AND :hi"
            " AND t.posted_at >= :since AND NOT EXISTS (SELECT 1 FROM ledger_postings p"
            " WHERE p.idempotency_key = 'tx:' || t.transaction_id)"
        ),
        {"lo": lo, "hi": hi, "since": since.astimezone(dt.UTC)},
    ).all()
    ledger = pl.DataFrame(
        {
            "account_id": [r[0] for r in posted],
            "advanced_on": [dt.date.fromisoformat(str(r[1])[:10]) for r in posted],
        },
        schema={"account_id": pl.String(), "advanced_on": pl.Date()},
    )
    other = _dates([(r[0], r[1]) for r in unposted], zone, "advanced_on")
    return pl.concat([ledger, other]).filter(pl.col("advanced_on") <= as_of)


def read_warning_chunks(
    db: Engine, as_of: dt.date, chunk_rows: int, zone: ZoneInfo
) -> Iterator[WarningChunk]:
    """The store's accounts in chunks of ``chunk_rows`` with what the early warning reads."""
    statuses = ", ".join(f"'{s}'" for s in REMINDED_STATUSES)
    columns = ", ".join(f"s.{c}" for c in STATEMENT_SCHEMA)

    def rest(conn: Connection, page: pl.DataFrame, lo: str, hi: str) -> WarningChunk:
        since = as_of - dt.timedelta(days=EVENT_LOOKBACK_DAYS)
        bounds = {"lo": lo, "hi": hi, "as_of": as_of}
        statements = query_frame(
            conn,
            f"SELECT {columns} FROM statements s JOIN accounts a ON a.account_id = s.account_id"
            f" WHERE s.account_id BETWEEN :lo AND :hi AND a.status IN ({statuses})"
            " AND s.cycle_date <= :as_of AND s.cycle_date >= :since",
            {**bounds, "since": statement_window_start(as_of)},
            STATEMENT_SCHEMA,
        )
        customers = query_frame(
            conn,
            "SELECT DISTINCT c.customer_id, c.birth_year, c.education, c.annual_income_minor"
            " FROM customers c JOIN accounts a ON a.customer_id = c.customer_id"
            " WHERE a.account_id BETWEEN :lo AND :hi",
            bounds,
            _CUSTOMERS,
        )
        previous = query_frame(
            conn,
            "SELECT w.account_id, w.score FROM warning_scores w"
            " JOIN (SELECT account_id, MAX(as_of) AS last_on FROM warning_scores"
            " WHERE account_id BETWEEN :lo AND :hi AND as_of < :as_of GROUP BY account_id) p"
            " ON p.account_id = w.account_id AND p.last_on = w.as_of",
            bounds,
            _PREVIOUS,
        )
        history = query_frame(
            conn,
            "SELECT account_id, rule, cycle_date, as_of, kind FROM warning_interventions"
            " WHERE account_id BETWEEN :lo AND :hi AND as_of <= :as_of AND as_of >= :since",
            {**bounds, "since": since},
            _HISTORY,
        )
        return WarningChunk(
            accounts=page.filter(pl.col("status").is_in(REMINDED_STATUSES)),
            customers=customers,
            statements=statements,
            payments=recent_payments(conn, lo, hi, as_of, zone),
            increases=limit_increases(conn, lo, hi, as_of, zone),
            cash_advances=cash_advances(conn, lo, hi, as_of, zone),
            previous=previous,
            history=history.with_columns(sends=pl.col("kind") != "hold_increases").drop("kind"),
            seen=page.height,
        )

    return keyset_chunks(
        db,
        "SELECT account_id, customer_id, credit_limit_minor, open_date, status, currency"
        " FROM accounts WHERE account_id > :after ORDER BY account_id LIMIT :n",
        _ACCOUNTS,
        chunk_rows,
        rest,
    )
