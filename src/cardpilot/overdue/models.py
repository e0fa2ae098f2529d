"""Store model of aging snapshots: where every account stood on a cycle date (or any day).

One row per (snapshot_date, account_id). ``kind`` is ``cycle`` for a statement cycle date and
``daily`` for any other as-of date. Writing a snapshot replaces the rows of that date in one
transaction, so re-running ``cardpilot aging`` for the same date is idempotent.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from cardpilot.store.models import Base


class AgingSnapshot(Base):
    __tablename__ = "aging_snapshots"

    snapshot_date: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    account_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("accounts.account_id"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(8))
    last_cycle_date: Mapped[dt.date] = mapped_column(Date)
    days_past_due: Mapped[int] = mapped_column(Integer)
    bucket: Mapped[str] = mapped_column(String(16))
    cycles_delinquent: Mapped[int] = mapped_column(SmallInteger)
    consecutive_overdue_months: Mapped[int] = mapped_column(SmallInteger)
    cures: Mapped[int] = mapped_column(SmallInteger)
    balance_minor: Mapped[int] = mapped_column(BigInteger)
    overdue_balance_minor: Mapped[int] = mapped_column(BigInteger)
    write_off: Mapped[bool] = mapped_column(Boolean)
    policy_version: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )

    __table_args__ = (
        CheckConstraint("kind IN ('cycle', 'daily')", name="kind_known"),
        CheckConstraint("days_past_due >= 0", name="dpd_non_negative"),
        Index("ix_aging_snapshots_date_bucket", "snapshot_date", "bucket"),
    )
