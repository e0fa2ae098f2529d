"""Store model of champion/challenger tests (``experiments``): a test as policy data.

The arm each decision fell in sits on the decision itself (``limit_decisions.experiment``,
``.arm``; ``overdue_treatments`` alike), written in its chunk's transaction.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, CheckConstraint, Date, DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cardpilot.store.models import Base

_ID = BigInteger().with_variant(Integer, "sqlite")


class ExperimentRecord(Base):
    """One test: its two policies (as ``--policy`` names them) and their versions, the
    challenger's share, its start, its error rates, and where it stands."""

    __tablename__ = "experiments"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # limits | overdue
    champion: Mapped[str] = mapped_column(Text)
    challenger: Mapped[str] = mapped_column(Text)
    champion_version: Mapped[str] = mapped_column(String(64))
    challenger_version: Mapped[str] = mapped_column(String(64))
    share_bp: Mapped[int] = mapped_column(Integer)
    start_on: Mapped[dt.date] = mapped_column(Date)
    alpha_bp: Mapped[int] = mapped_column(Integer)
    power_bp: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))  # running | stopped | promoted
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(128))
    stopped_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    promoted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("kind IN ('limits', 'overdue')", name="kind_known"),
        CheckConstraint("status IN ('running', 'stopped', 'promoted')", name="status_known"),
        CheckConstraint("share_bp > 0 AND share_bp < 10000", name="share_in_range"),
    )
