"""Payments posted to accounts (``transactions`` of kind ``payment``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, text


@dataclass(frozen=True)
class Payment:
    transaction_id: str
    account_id: str
    posted_at: dt.datetime  # with its time zone
    amount_minor: int
    currency: str


def insert_payments(db: Engine, payments: Sequence[Payment]) -> None:
    """Post ``payments`` in one transaction."""
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


def as_zoned(value: object, zone: ZoneInfo) -> dt.datetime:
    """A stored timestamp in ``zone`` (SQLite keeps the UTC wall time, as text or naive)."""
    stamp = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.UTC)
    return stamp.astimezone(zone)
