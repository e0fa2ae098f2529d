"""Decided applications (``cardpilot apply``): one row per application, offer or decline; and
a customer's requests for more credit (``cardpilot request``).

The application id is unique, so deciding a file again adds nothing (insert-or-ignore) and keeps
the first decision. An offer opens an account (``account_id``, with its opening row in the limit
history and a ``limit_change`` event in the ledger, in the same transaction); a decline has none.
Reason lists are JSON arrays (codes, zh-CN texts, en texts), as in ``limit_decisions``.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, CheckConstraint, Date, DateTime, Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cardpilot.store.models import Base

_ID = BigInteger().with_variant(Integer, "sqlite")


class ApplicationDecision(Base):
    """One application's decision, with the versions that made it."""

    __tablename__ = "application_decisions"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    application_id: Mapped[str] = mapped_column(String(64), unique=True)
    customer_id: Mapped[str] = mapped_column(String(64))
    account_id: Mapped[str | None] = mapped_column(String(64))  # opened on an offer
    as_of: Mapped[dt.date] = mapped_column(Date)
    decided_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    grade: Mapped[str | None] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(16))
    score: Mapped[int | None] = mapped_column(Integer)
    pd: Mapped[float | None] = mapped_column(Float)
    initial_limit_minor: Mapped[int | None] = mapped_column(BigInteger)
    affordability_cap_minor: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    reason_codes: Mapped[str] = mapped_column(Text)
    reason_texts_zh: Mapped[str] = mapped_column(Text)
    reason_texts_en: Mapped[str] = mapped_column(Text)
    policy_version: Mapped[str] = mapped_column(String(64))
    customer_policy_version: Mapped[str] = mapped_column(String(80))
    model_version: Mapped[str | None] = mapped_column(String(128))
    source: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint("action IN ('offer', 'decline', 'refer')", name="action_known"),
        CheckConstraint(
            "initial_limit_minor IS NULL OR initial_limit_minor >= 0", name="limit_non_negative"
        ),
    )


class LimitRequest(Base):
    """A customer's request for a permanent or temporary increase, as decided. A temporary
    limit granted is ``active`` until its expiry date, then ``expired``."""

    __tablename__ = "limit_requests"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    account_id: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # permanent | temporary
    purpose: Mapped[str | None] = mapped_column(String(32))
    requested_minor: Mapped[int] = mapped_column(BigInteger)
    months: Mapped[int | None] = mapped_column(Integer)
    as_of: Mapped[dt.date] = mapped_column(Date)
    decided_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    action: Mapped[str] = mapped_column(String(16))  # granted | declined
    grade: Mapped[str | None] = mapped_column(String(16))
    score: Mapped[int | None] = mapped_column(Integer)
    old_limit_minor: Mapped[int] = mapped_column(BigInteger)
    new_limit_minor: Mapped[int | None] = mapped_column(BigInteger)
    temporary_limit_minor: Mapped[int | None] = mapped_column(BigInteger)
    expires_on: Mapped[dt.date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))  # decided | active | expired
    reason_codes: Mapped[str] = mapped_column(Text)
    reason_texts_zh: Mapped[str] = mapped_column(Text)
    reason_texts_en: Mapped[str] = mapped_column(Text)
    policy_version: Mapped[str] = mapped_column(String(64))
    customer_policy_version: Mapped[str] = mapped_column(String(80))
    model_version: Mapped[str | None] = mapped_column(String(128))

    __table_args__ = (
        CheckConstraint("kind IN ('permanent', 'temporary')", name="kind_known"),
        CheckConstraint("action IN ('granted', 'declined')", name="action_known"),
        CheckConstraint("status IN ('decided', 'active', 'expired')", name="status_known"),
    )
