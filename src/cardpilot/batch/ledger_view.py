"""What the overdue jobs read of the ledger to age an account: its recent payments and how far
the store's payment data reaches (``overdue.aging.LedgerPayments``)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine

from cardpilot.overdue.aging import LedgerPayments
from cardpilot.store.ledger import PAYMENT_LOOKBACK_DAYS, ledger_payments
from cardpilot.store.reminder_reads import payments_known_through


def known_through(db: Engine, zone: str) -> dt.date | None:
    """The last day the store's payment data reaches (None: it holds none)."""
    return payments_known_through(db, ZoneInfo(zone))


def read_ledger_payments(
    conn: Connection,
    as_of: dt.date,
    known: dt.date | None,
    lo: str | None = None,
    hi: str | None = None,
) -> LedgerPayments:
    """The ledger's payments that can count towards a statement on ``as_of`` (of the accounts
    ``lo``..``hi`` when given), with the day the payment data reaches."""
    return LedgerPayments(
        payments=ledger_payments(conn, as_of, lo, hi),
        known_through=known,
        since=as_of - dt.timedelta(days=PAYMENT_LOOKBACK_DAYS),
    )
