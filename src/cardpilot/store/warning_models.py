"""Store models of the early warning: the scores of each run and the interventions.

``warning_scores``: the early-warning score of every current account on a run's as-of date,
with the model's reasons and the change since the account's previous run (the watch list);
one row per (account, as-of date), so a re-run of the same day writes nothing new.

``warning_interventions``: one stored decision per (account, rule, statement cycle): the rule,
the intervention, the reasons (codes with their zh-CN and en texts, JSON), the repayment
advice quoted to the customer (JSON, figures in fen), the score, the policy and model
versions, and for a hold on increases its end (read by the limit review with the watch's
holds). ``decision_ref`` is the intervention's reference, from which its outbox messages'
keys derive (the transactional outbox: both are written in one transaction).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from cardpilot.store.models import Base

_ID = BigInteger().with_variant(Integer, "sqlite")


class WarningScore(Base):
    """One current account's early-warning score on one as-of date."""

    __tablename__ = "warning_scores"

    account_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    as_of: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(64))
    score: Mapped[float] = mapped_column(Float)  # probability of going overdue next cycle
    score_change: Mapped[float | None] = mapped_column(Float)  # since the previous run
    reason_codes: Mapped[str] = mapped_column(Text)  # JSON array, most important first
    model_version: Mapped[str] = mapped_column(String(96))
    policy_version: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )

    __table_args__ = (Index("ix_warning_scores_as_of_score", "as_of", "score"),)


class WarningIntervention(Base):
    """One intervention decided for one account, rule and statement cycle."""

    __tablename__ = "warning_interventions"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    decision_ref: Mapped[str] = mapped_column(String(64))
    account_id: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[str] = mapped_column(String(64))
    as_of: Mapped[dt.date] = mapped_column(Date)  # the day the rule fired
    cycle_date: Mapped[dt.date] = mapped_column(Date)  # the statement cycle it speaks to
    rule: Mapped[str] = mapped_column(String(32))
    intervention: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))  # message, counselling, plan_offer, hold_...
    priority: Mapped[int] = mapped_column(Integer)
    # JSON [{code, zh-CN, en}]: the rule's reason, then the model's
    reasons: Mapped[str] = mapped_column(Text)
    advice: Mapped[str | None] = mapped_column(Text)  # JSON, fen; None for a hold
    score: Mapped[float | None] = mapped_column(Float)
    score_change: Mapped[float | None] = mapped_column(Float)
    hold_until: Mapped[dt.date | None] = mapped_column(Date)
    policy_version: Mapped[str] = mapped_column(String(64))
    model_version: Mapped[str | None] = mapped_column(String(96))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )

    __table_args__ = (
        UniqueConstraint("decision_ref", name="uq_warning_interventions_decision_ref"),
        UniqueConstraint(
            "account_id", "rule", "cycle_date", name="uq_warning_interventions_account_rule_cycle"
        ),
        Index("ix_warning_interventions_as_of", "as_of"),
    )
