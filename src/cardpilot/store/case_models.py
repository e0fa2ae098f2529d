"""Human-review cases (PIPL art. 24): a person looks again at an automated limit decision.

A case refers to the limit decision it reviews. When an analyst overrides it, the new limit is
itself a limit decision (``limit_decisions.source = 'case'``), and the case keeps the date until
which later reviews leave the account's limit alone (``hold_until``, from the case policy).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Date, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cardpilot.store.models import Base

_ID = BigInteger().with_variant(Integer, "sqlite")


class ReviewCase(Base):
    """One request for human review of a limit decision, and its outcome."""

    __tablename__ = "review_cases"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    account_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("accounts.account_id"), index=True
    )
    decision_id: Mapped[int] = mapped_column(ForeignKey("limit_decisions.id"))  # reviewed
    status: Mapped[str] = mapped_column(String(16), index=True)  # open | decided
    requested_by: Mapped[str] = mapped_column(String(16))  # customer | analyst
    reason: Mapped[str] = mapped_column(Text)
    opened_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    opened_by: Mapped[str] = mapped_column(String(128))
    outcome: Mapped[str | None] = mapped_column(String(16))  # uphold | override
    decision_reason: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[str | None] = mapped_column(String(128))
    new_limit_minor: Mapped[int | None] = mapped_column(BigInteger)
    override_decision_id: Mapped[int | None] = mapped_column(ForeignKey("limit_decisions.id"))
    hold_until: Mapped[dt.date | None] = mapped_column(Date)
    case_policy_version: Mapped[str | None] = mapped_column(String(64))
