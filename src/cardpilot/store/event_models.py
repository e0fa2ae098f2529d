"""The event intake's tables: each event received and each account's running features.

``event_receipts`` holds one row per event id the consumer has decided (applied, or
dead-lettered with its reason): the consumer's idempotency by event id, written in the same
transaction as the event's ledger postings. ``event_account_features`` holds each account's
running features (``events.feature_frames.STATE_SCHEMA``) a column per field, with the few the
early-warning rules read derived; its two lists (spending by month, the money events of the
late window) are compact text, ``YYYY-MM:amount`` and ``epoch-µs:balance:paid:cash`` items
separated by spaces, written and read column-wise (``store.event_features``).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from cardpilot.store.models import Base


class EventReceipt(Base):
    __tablename__ = "event_receipts"

    event_id: Mapped[str] = mapped_column(String(120), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(120))
    sequence: Mapped[int] = mapped_column(BigInteger)
    outcome: Mapped[str] = mapped_column(String(12))
    kind: Mapped[str | None] = mapped_column(String(20))
    field: Mapped[str | None] = mapped_column(String(120))
    reason: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )

    __table_args__ = (
        CheckConstraint("outcome IN ('applied', 'dead')", name="outcome_known"),
        # The sequences an account's events hold (conflicts are checked against it).
        Index("ix_event_receipts_account_sequence", "account_id", "sequence"),
    )


class EventAccountFeatures(Base):
    __tablename__ = "event_account_features"
    # Each batch rewrites its accounts' rows: with half of each page free on PostgreSQL the new
    # version stays on the row's page, and the primary key is not written again.
    __table_args__ = ({"postgresql_with": {"fillfactor": 50}},)

    account_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("accounts.account_id"), primary_key=True
    )
    last_sequence: Mapped[int] = mapped_column(BigInteger)
    last_occurred_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    events_applied: Mapped[int] = mapped_column(BigInteger)
    utilisation_bp: Mapped[int | None] = mapped_column(Integer)
    spend_ratio_bp: Mapped[int | None] = mapped_column(Integer)
    payment_days_before_due: Mapped[int | None] = mapped_column(Integer)
    currency: Mapped[str | None] = mapped_column(String(3))
    statement_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    statement_balance_minor: Mapped[int] = mapped_column(BigInteger, server_default="0")
    credit_limit_minor: Mapped[int | None] = mapped_column(BigInteger)
    minimum_due_minor: Mapped[int] = mapped_column(BigInteger, server_default="0")
    due_date: Mapped[dt.date | None] = mapped_column(Date)
    balance_since_statement_minor: Mapped[int] = mapped_column(BigInteger, server_default="0")
    paid_since_statement_minor: Mapped[int] = mapped_column(BigInteger, server_default="0")
    minimum_paid_on: Mapped[dt.date | None] = mapped_column(Date)
    last_payment_on: Mapped[dt.date | None] = mapped_column(Date)
    utilisation_at_statement_bp: Mapped[int | None] = mapped_column(BigInteger)
    spend_by_month: Mapped[str] = mapped_column(Text, server_default="")
    first_month: Mapped[str | None] = mapped_column(String(7))
    last_cash_advance_on: Mapped[dt.date | None] = mapped_column(Date)
    cash_advances_this_cycle: Mapped[int] = mapped_column(BigInteger, server_default="0")
    last_contact_outcome: Mapped[str | None] = mapped_column(String(20))
    last_contact_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    recent: Mapped[str] = mapped_column(Text, server_default="")
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
