"""The event intake's tables: each event received and each account's running features.

``event_receipts`` holds one row per event id the consumer has decided (applied, or
dead-lettered with its reason): the consumer's idempotency by event id, written in the same
transaction as the event's ledger postings. ``event_account_features`` holds each account's
running features (``events.features``) as canonical JSON, with the few the early-warning rules
select on as columns.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
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

    account_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("accounts.account_id"), primary_key=True
    )
    last_sequence: Mapped[int] = mapped_column(BigInteger)
    last_occurred_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    events_applied: Mapped[int] = mapped_column(BigInteger)
    utilisation_bp: Mapped[int | None] = mapped_column(Integer)
    spend_ratio_bp: Mapped[int | None] = mapped_column(Integer)
    payment_days_before_due: Mapped[int | None] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
