"""The account ledger's table: append-only postings (``cardpilot.ledger.postings``).

Rows are never updated or deleted; a correction is a new posting that refers to the one it
corrects. ``idempotency_key`` is unique, so every write is insert-or-ignore: an import, a
decision or an event replayed adds nothing twice. ``effective_on`` is the posting's business
day in the issuer's time zone (balances "as of a day" read it); ``effective_at`` the instant,
stored as UTC.
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

_ID = BigInteger().with_variant(Integer, "sqlite")
SOURCES = ("import", "decision", "plan_event", "event", "manual")


class LedgerPosting(Base):
    """One posting: money (signed minor units, by component) or an event of an account."""

    __tablename__ = "ledger_postings"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    account_id: Mapped[str] = mapped_column(String(64), ForeignKey("accounts.account_id"))
    kind: Mapped[str] = mapped_column(String(24))
    component: Mapped[str | None] = mapped_column(String(16))
    # Positive: adds to what the cardholder owes; negative: reduces it. None: an event.
    amount_minor: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    effective_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    effective_on: Mapped[dt.date] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(16))
    idempotency_key: Mapped[str] = mapped_column(String(160), unique=True)
    reference: Mapped[str | None] = mapped_column(String(160))
    basis: Mapped[str | None] = mapped_column(String(16))
    detail: Mapped[str | None] = mapped_column(Text)
    recorded_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )

    __table_args__ = (
        CheckConstraint(f"source IN {SOURCES!r}", name="source_known"),
        # Per-account reads in date order (the account's story, balances as of a day).
        Index("ix_ledger_postings_account", "account_id", "effective_on"),
    )
