"""Payments posted to accounts (``transactions`` of kind ``payment``, and to the ledger)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, text

from cardpilot.ledger.postings import Component, Kind, Posting, Source
from cardpilot.store.ledger import insert_postings


@dataclass(frozen=True)
class Payment:
    transaction_id: str
    account_id: str
    posted_at: dt.datetime  # with its time zone
    amount_minor: int
    currency: str


def insert_payments(db: Engine, payments: Sequence[Payment]) -> None:
    """Post ``payments`` in one transaction: as transactions, and to the ledger (``tx:<id>``,
    on the payment's own business day) as an import of the same transaction would."""
    if not payments:
        return
    with db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO transactions (transaction_id, account_id, posted_at, kind,"
                " amount_minor, currency) VALUES (:t, :a, :p, 'payment', :m, :c)"
            ),
            [
                {
                    "t": p.transaction_id,
                    "a": p.account_id,
                    "p": p.posted_at,
                    "m": p.amount_minor,
                    "c": p.currency,
                }
                for p in payments
            ],
        )
        insert_postings(conn, [_posting(p) for p in payments if p.amount_minor])


def _posting(payment: Payment) -> Posting:
    return Posting(
        account_id=payment.account_id,
        kind=Kind.PAYMENT,
        effective_at=payment.posted_at,
        source=Source.EVENT,
        idempotency_key=f"tx:{payment.transaction_id}",
        amount_minor=-payment.amount_minor,
        currency=payment.currency,
        component=Component.PRINCIPAL,
    )


def as_zoned(value: object, zone: ZoneInfo) -> dt.datetime:
    """A stored timestamp in ``zone`` (SQLite keeps the UTC wall time, as text or naive)."""
    stamp = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.UTC)
    return stamp.astimezone(zone)
