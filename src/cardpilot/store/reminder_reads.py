"""What the reminders job reads of the store, one chunk of accounts at a time: the accounts,
their statements, the payments since their latest statement, their overdue treatments and
their customers' opt-ins to a message topic."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import polars as pl
from sqlalchemy import Connection, Engine, text

from cardpilot.store.frame_reads import keyset_chunks, query_frame
from cardpilot.store.payments import as_zoned

REMINDED_STATUSES = ("active", "frozen")  # closed and charged-off accounts get no reminders
PAYMENT_LOOKBACK_DAYS = 62  # payments older than two cycles cannot count for the latest one

_ACCOUNTS: dict[str, pl.DataType] = {
    "account_id": pl.String(),
    "customer_id": pl.String(),
    "currency": pl.String(),
    "status": pl.String(),
}
_STATEMENTS: dict[str, pl.DataType] = {
    "account_id": pl.String(),
    "cycle_date": pl.Date(),
    "due_date": pl.Date(),
    "statement_balance_minor": pl.Int64(),
    "minimum_due_minor": pl.Int64(),
    "amount_paid_minor": pl.Int64(),
    "days_past_due": pl.Int32(),
}
_TREATMENTS: dict[str, pl.DataType] = {
    "account_id": pl.String(),
    "as_of": pl.Date(),
    "risk_segment": pl.String(),
}
_PAYMENTS: dict[str, pl.DataType] = {
    "account_id": pl.String(),
    "paid_on": pl.Date(),
    "amount_minor": pl.Int64(),
}


@dataclass
class ReminderChunk:
    accounts: pl.DataFrame  # the range's accounts that get reminders
    statements: pl.DataFrame  # theirs, up to as_of
    payments: pl.DataFrame  # account_id, paid_on (in the issuer's zone), amount_minor
    treatments: pl.DataFrame  # account_id, as_of, risk_segment (up to as_of)
    opt_ins: pl.DataFrame  # customer_id of the customers opted in to the topic
    seen: int  # accounts of the range


def recent_payments(
    conn: Connection, lo: str, hi: str, as_of: dt.date, zone: ZoneInfo
) -> pl.DataFrame:
    """Payments of the accounts ``lo``..``hi`` in the last two cycles: the ledger's (on their
    business day), and payments stored as transactions that were never posted to it."""
    since_day = as_of - dt.timedelta(days=PAYMENT_LOOKBACK_DAYS)
    since = dt.datetime.combine(since_day, dt.time(), zone)
    posted = conn.execute(
        text(
            "SELECT account_id, effective_on, amount_minor FROM ledger_postings"
            " WHERE kind = 'payment' AND account_id BETWEEN :lo AND :hi"
            " AND effective_on >= :since"
        ),
        {"lo": lo, "hi": hi, "since": since_day},
    ).all()
    unposted = conn.execute(
        text(
            "SELECT t.account_id, t.posted_at, t.amount_minor FROM transactions t"
            " WHERE t.kind = 'payment' AND t.account_id BETWEEN :lo AND :hi"
            " AND t.posted_at >= :since AND NOT EXISTS (SELECT 1 FROM ledger_postings p"
            " WHERE p.idempotency_key = 'tx:' || t.transaction_id)"
        ),
        {"lo": lo, "hi": hi, "since": since.astimezone(dt.UTC)},
    ).all()
    return pl.DataFrame(
        {
            "account_id": [r[0] for r in posted] + [r[0] for r in unposted],
            "paid_on": [dt.date.fromisoformat(str(r[1])[:10]) for r in posted]
            + [as_zoned(r[1], zone).date() for r in unposted],
            "amount_minor": [abs(int(r[2])) for r in posted] + [abs(int(r[2])) for r in unposted],
        },
        schema=_PAYMENTS,
    )


def payments_known_through(db: Engine, zone: ZoneInfo) -> dt.date | None:
    """The last day the store's payment data reaches (None: it holds none).

    The latest business day of anything an import posted to the ledger (a UCI file reaches its
    last statement; a payments file its last payment), or of a payment stored as a
    transaction. Before it, a payment that was due and is not in the store was not made; after
    it, the store cannot tell.
    """
    with db.connect() as conn:
        posted = conn.execute(
            text("SELECT max(effective_on) FROM ledger_postings WHERE source = 'import'")
        ).scalar()
        paid = conn.execute(
            text("SELECT max(posted_at) FROM transactions WHERE kind = 'payment'")
        ).scalar()
    days = []
    if posted is not None:
        days.append(dt.date.fromisoformat(str(posted)[:10]))
    if paid is not None:
        days.append(as_zoned(paid, zone).date())
    return max(days) if days else None


def read_reminder_chunks(
    db: Engine, as_of: dt.date, chunk_rows: int, zone: ZoneInfo, topic: str
) -> Iterator[ReminderChunk]:
    """The store's accounts in chunks of ``chunk_rows`` (keyset paging in account-id order)
    with what the reminders read of them; ``topic``: the opt-in topic read."""
    statuses = ", ".join(f"'{s}'" for s in REMINDED_STATUSES)

    def rest(conn: Connection, accounts: pl.DataFrame, lo: str, hi: str) -> ReminderChunk:
        bounds = {"lo": lo, "hi": hi, "as_of": as_of}
        statements = query_frame(
            conn,
            "SELECT s.account_id, s.cycle_date, s.due_date, s.statement_balance_minor,"
            " s.minimum_due_minor, s.amount_paid_minor, s.days_past_due"
            " FROM statements s JOIN accounts a ON a.account_id = s.account_id"
            f" WHERE s.account_id BETWEEN :lo AND :hi AND a.status IN ({statuses})"
            " AND s.cycle_date <= :as_of",
            bounds,
            _STATEMENTS,
        )
        treatments = query_frame(
            conn,
            "SELECT account_id, as_of, risk_segment FROM overdue_treatments"
            " WHERE account_id BETWEEN :lo AND :hi AND as_of <= :as_of",
            bounds,
            _TREATMENTS,
        )
        opt_ins = query_frame(
            conn,
            "SELECT DISTINCT o.customer_id FROM contact_opt_ins o"
            " JOIN accounts a ON a.customer_id = o.customer_id"
            " WHERE a.account_id BETWEEN :lo AND :hi AND o.topic = :topic"
            " AND o.opted_in = :yes",
            {"lo": lo, "hi": hi, "topic": topic, "yes": True},
            {"customer_id": pl.String()},
        )
        return ReminderChunk(
            accounts=accounts.filter(pl.col("status").is_in(REMINDED_STATUSES)),
            statements=statements,
            payments=recent_payments(conn, lo, hi, as_of, zone),
            treatments=treatments,
            opt_ins=opt_ins,
            seen=accounts.height,
        )

    return keyset_chunks(
        db,
        "SELECT account_id, customer_id, currency, status FROM accounts"
        " WHERE account_id > :after ORDER BY account_id LIMIT :n",
        _ACCOUNTS,
        chunk_rows,
        rest,
    )
