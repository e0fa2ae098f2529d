"""Store models of aging snapshots, overdue treatments and repayment plans (和谐还款).

``aging_snapshots``: where every account stood on a cycle date (or any day), one row per
(snapshot_date, account_id); ``kind`` is ``cycle`` for a statement cycle date and ``daily`` for
any other as-of date. Writing a snapshot replaces the rows of its date in one transaction
(``store.aging_snapshots``), so re-running ``cardpilot aging`` for a date is idempotent.

``overdue_treatments``: one auditable decision per (account, as-of date): the risk segment, the
treatment and everything it does, up to four reasons in zh-CN and en, the policy and model
versions. The unique key makes ``cardpilot overdue treat`` idempotent: a re-run (or a run
killed half-way and started again) treats each account exactly once per date.

``repayment_plans`` and ``plan_events``: a plan's state is the fold of its customer's events
with ``cardpilot.domain.harmony.apply``; the plan row caches the result. ``event_id`` is unique,
so an event recorded twice (a replayed payment file, a retried job) is stored once, and the
fold gives the same state.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from cardpilot.store.models import Base

_ID = BigInteger().with_variant(Integer, "sqlite")

LIMIT_ACTIONS = ("none", "freeze", "cut")
PLAN_STATUSES = ("offered", "accepted", "active", "kept", "broken", "declined")
PLAN_EVENT_KINDS = ("offered", "accepted", "declined", "payment", "day_closed")


class OverdueTreatment(Base):
    """The treatment of one overdue account on one as-of date."""

    __tablename__ = "overdue_treatments"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    run_key: Mapped[str] = mapped_column(String(36))  # the run that inserted it
    account_id: Mapped[str] = mapped_column(String(64), ForeignKey("accounts.account_id"))
    as_of: Mapped[dt.date] = mapped_column(Date)
    bucket: Mapped[str] = mapped_column(String(16))
    days_past_due: Mapped[int] = mapped_column(Integer)
    cures: Mapped[int] = mapped_column(SmallInteger)
    broken_promises: Mapped[int] = mapped_column(SmallInteger)
    overdue_balance_minor: Mapped[int] = mapped_column(BigInteger)
    score: Mapped[int | None] = mapped_column(Integer)
    pd: Mapped[float | None] = mapped_column(Float)
    risk_segment: Mapped[str] = mapped_column(String(32))
    risk_level: Mapped[str] = mapped_column(String(8))
    treatment: Mapped[str] = mapped_column(String(32))
    # Daily rate as exact decimal text (e.g. "0.00060000"), as the policy states it.
    penalty_rate_daily: Mapped[str] = mapped_column(String(16))
    fee_waived: Mapped[bool] = mapped_column(Boolean)
    fee_waiver_share_bp: Mapped[int] = mapped_column(Integer)
    # The period's charges, assessed by the treatment (``overdue.charges.charge_exprs``, the
    # figures of ``assess_charges``): penalty interest and late fee after the cap. Null on
    # decisions stored before migration 0009 (the report derives those as it used to).
    penalty_interest_minor: Mapped[int | None] = mapped_column(BigInteger)
    late_fee_minor: Mapped[int | None] = mapped_column(BigInteger)
    fee_waived_minor: Mapped[int] = mapped_column(BigInteger)  # waiver share of the charges
    due_date_extension_days: Mapped[int] = mapped_column(Integer)
    limit_action: Mapped[str] = mapped_column(String(8))
    limit_cut_share_bp: Mapped[int] = mapped_column(Integer)
    old_limit_minor: Mapped[int] = mapped_column(BigInteger)
    new_limit_minor: Mapped[int] = mapped_column(BigInteger)
    first_contact_dpd: Mapped[int] = mapped_column(Integer)
    contacts_per_week: Mapped[int] = mapped_column(Integer)
    contact_tone: Mapped[str] = mapped_column(String(16))
    eligible_plans: Mapped[str] = mapped_column(Text)  # JSON array
    harmony_eligible: Mapped[bool] = mapped_column(Boolean)
    reason_codes: Mapped[str] = mapped_column(Text)  # JSON arrays, at most four
    reason_texts_zh: Mapped[str] = mapped_column(Text)
    reason_texts_en: Mapped[str] = mapped_column(Text)
    policy_version: Mapped[str] = mapped_column(String(64))
    model_version: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    # The champion/challenger test that split the treatment and the account's arm (null
    # outside a test).
    experiment: Mapped[str | None] = mapped_column(String(64))
    arm: Mapped[str | None] = mapped_column(String(16))

    __table_args__ = (
        UniqueConstraint("account_id", "as_of", name="uq_overdue_treatments_account_as_of"),
        CheckConstraint("limit_action IN ('none', 'freeze', 'cut')", name="limit_action_known"),
        CheckConstraint("days_past_due > 0", name="overdue_only"),
        Index("ix_overdue_treatments_as_of_segment", "as_of", "risk_segment"),
        Index("ix_overdue_treatments_run_key", "run_key"),
    )


class RepaymentPlan(Base):
    """A 和谐还款 plan as offered; ``status`` and the amounts cache the fold of its events."""

    __tablename__ = "repayment_plans"

    plan_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("accounts.account_id"), index=True
    )
    customer_id: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # equal_principal, amortising, deferral
    months: Mapped[int] = mapped_column(SmallInteger)
    principal_minor: Mapped[int] = mapped_column(BigInteger)
    penalty_fees_minor: Mapped[int] = mapped_column(BigInteger)
    waiver_share_bp: Mapped[int] = mapped_column(Integer)
    instalments: Mapped[str] = mapped_column(Text)  # JSON [[due_date, amount_minor], ...]
    period_months: Mapped[int] = mapped_column(SmallInteger)
    grace_days: Mapped[int] = mapped_column(SmallInteger)
    offered_on: Mapped[dt.date] = mapped_column(Date)
    accept_by: Mapped[dt.date | None] = mapped_column(Date)
    risk_segment: Mapped[str | None] = mapped_column(String(32))
    treatment_id: Mapped[int | None] = mapped_column(BigInteger)
    policy_version: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    paid_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    waived_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    reinstated_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    status_on: Mapped[dt.date | None] = mapped_column(Date)  # date of the last transition
    status_reason: Mapped[str | None] = mapped_column(String(48))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )

    __table_args__ = (
        CheckConstraint(
            "status IN ('offered', 'accepted', 'active', 'kept', 'broken', 'declined')",
            name="status_known",
        ),
    )


class PlanEvent(Base):
    """One event of a plan, with what the state machine made of it."""

    __tablename__ = "plan_events"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(96), unique=True)
    plan_id: Mapped[str] = mapped_column(String(64), ForeignKey("repayment_plans.plan_id"))
    customer_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    event_date: Mapped[dt.date] = mapped_column(Date)
    amount_minor: Mapped[int | None] = mapped_column(BigInteger)
    source: Mapped[str | None] = mapped_column(String(96))  # e.g. transaction:T1, cli
    # Filled by the fold: transition | rejected | none (a payment inside an active plan).
    outcome: Mapped[str | None] = mapped_column(String(16))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(48))
    recorded_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )

    __table_args__ = (
        CheckConstraint(
            "kind IN ('offered', 'accepted', 'declined', 'payment', 'day_closed')",
            name="kind_known",
        ),
        Index("ix_plan_events_customer", "customer_id"),
        Index("ix_plan_events_plan", "plan_id"),
    )


class ContactOptIn(Base):
    """A customer's consent to an opt-in message topic (``education``: how interest and fees
    work, what paying only the minimum costs). Absent or ``opted_in = false``: not sent.
    Kept as a record (when, from where) rather than a flag so the consent can be shown."""

    __tablename__ = "contact_opt_ins"

    customer_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("customers.customer_id"), primary_key=True
    )
    topic: Mapped[str] = mapped_column(String(32), primary_key=True)
    opted_in: Mapped[bool] = mapped_column(Boolean)
    changed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    source: Mapped[str | None] = mapped_column(String(64))  # e.g. app, branch, cli


class AgingSnapshot(Base):
    """Where one account stood on one snapshot date."""

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
