"""Store models of the periodic limit review: runs, decisions, and the watch after increases.

A decision is an audit record (PIPL art. 24: an automated decision must be explainable
afterwards): it keeps the grade, segment, score, PD, old and new limit, the reason codes with
their texts in zh-CN and en, and the policy and model versions that made it.

``(account_id, cycle_id)`` is unique: a review cycle decides an account once. The review job
inserts with ``ON CONFLICT DO NOTHING`` and applies the limit change, the limit-history row and
the account's grade/segment/review date in the same transaction, so a run killed at any point
and run again ends with exactly one decision per account per cycle.

Reason lists are stored as JSON arrays in text columns (portable across SQLite and
PostgreSQL, and written in bulk without per-row serialisation). A decision keeps its reason
codes; their zh-CN and en texts are a :class:`ReasonTextSet` it refers to (migration 0013): a
review gives a few dozen distinct lists of texts, which took most of each decision row when
every decision carried its own copy. Decisions stored
before 0013 keep their texts in their own ``reason_texts_zh`` / ``reason_texts_en``; newer
ones leave those empty and refer to a set (:func:`decision_texts` reads either).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
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


class ReviewRun(Base):
    """One run of ``cardpilot review``: what it was asked, what it decided, how it ended."""

    __tablename__ = "review_runs"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    cycle_id: Mapped[str] = mapped_column(String(16), index=True)
    as_of: Mapped[dt.date] = mapped_column(Date)
    policy_version: Mapped[str] = mapped_column(String(64))
    model_version: Mapped[str | None] = mapped_column(String(128))
    engine: Mapped[str] = mapped_column(String(16))
    # running → finished | failed; a run killed by the OS stays "running" and the next run of
    # the same cycle marks it "interrupted".
    status: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    skipped: Mapped[int] = mapped_column(Integer, default=0)  # already decided this cycle
    decided: Mapped[int] = mapped_column(Integer, default=0)
    increases: Mapped[int] = mapped_column(Integer, default=0)
    keeps: Mapped[int] = mapped_column(Integer, default=0)
    decreases: Mapped[int] = mapped_column(Integer, default=0)
    watched: Mapped[int] = mapped_column(Integer, default=0)
    note: Mapped[str | None] = mapped_column(Text)


class ReasonTextSet(Base):
    """The zh-CN and en texts of one list of reasons, shared by the decisions that gave it.

    The id is a digest of the two JSON arrays (``limit_decisions.reason_texts_id``), so a set
    is written once, never changes, and writing it again is a no-op: each decision's texts stay
    exactly those it was given."""

    __tablename__ = "reason_text_sets"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    texts_zh: Mapped[str] = mapped_column(Text)  # JSON array, in the decision's code order
    texts_en: Mapped[str] = mapped_column(Text)


# A query of decisions aliased ``d`` joins their text sets as ``s`` with this, and reads the
# texts with :func:`decision_texts`.
TEXT_SETS_JOIN = "LEFT JOIN reason_text_sets s ON s.id = d.reason_texts_id"


def decision_texts(locale: str) -> str:
    """SQL for the ``locale`` (``zh`` | ``en``) texts of the decision ``d`` (``TEXT_SETS_JOIN``
    joined): its set's, or its own for a decision stored before 0013."""
    return f"COALESCE(s.texts_{locale}, d.reason_texts_{locale})"


class LimitDecisionRecord(Base):
    """One account's review decision in one cycle (the auditable record)."""

    __tablename__ = "limit_decisions"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("review_runs.id"))
    cycle_id: Mapped[str] = mapped_column(String(16))
    account_id: Mapped[str] = mapped_column(String(64), ForeignKey("accounts.account_id"))
    as_of: Mapped[dt.date] = mapped_column(Date)
    due_for_review: Mapped[bool] = mapped_column(Boolean)
    grade: Mapped[str | None] = mapped_column(String(32))
    segment: Mapped[str | None] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(16))  # increase | keep | decrease
    score: Mapped[int | None] = mapped_column(Integer)
    pd: Mapped[float | None] = mapped_column(Float)
    old_limit_minor: Mapped[int] = mapped_column(BigInteger)
    new_limit_minor: Mapped[int] = mapped_column(BigInteger)
    increase_pct_bp: Mapped[int | None] = mapped_column(Integer)
    consecutive_overdue_months: Mapped[int | None] = mapped_column(Integer)
    reason_codes: Mapped[str] = mapped_column(Text)  # JSON array
    # Before migration 0013: the texts themselves (JSON arrays, same order); since: empty, and
    # the texts are the set of ``reason_texts_id``.
    reason_texts_zh: Mapped[str] = mapped_column(Text)
    reason_texts_en: Mapped[str] = mapped_column(Text)
    reason_texts_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("reason_text_sets.id")
    )
    policy_version: Mapped[str] = mapped_column(String(64))
    model_version: Mapped[str | None] = mapped_column(String(128))
    decided_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    # review (a review run) | case (an analyst's override, cardpilot.store.cases; its cycle_id
    # is the case's, ``case-<id>``, so it never counts among a review cycle's decisions).
    source: Mapped[str] = mapped_column(String(16), server_default="review")
    # The champion/challenger test that split the review, and the arm the account fell in
    # (cardpilot.domain.experiments); null outside a test.
    experiment: Mapped[str | None] = mapped_column(String(64))
    arm: Mapped[str | None] = mapped_column(String(16))

    __table_args__ = (
        UniqueConstraint("account_id", "cycle_id", name="uq_limit_decisions_account_cycle"),
        Index("ix_limit_decisions_run_account", "run_id", "account_id"),
        # No index on cycle_id alone (migration 0011): a cycle's decisions are read through
        # its runs (cycle_decisions below).
    )


class PendingLimitChange(Base):
    """A decrease waiting for its notice period: decided by a review, told to the customer, and
    applied to the account on ``effective_on`` (the decision's date plus the notify policy's
    ``limit_notices.decrease_notice_days``), not on the decision's date.

    ``status``: ``pending`` → ``applied`` (by the first job whose as-of date reaches
    ``effective_on``: the limit history row, the account's limit and a ``limit_change`` ledger
    event, ``apply_batch`` naming the job's batch) or ``superseded`` (a later decision on the
    account, ``superseded_by``, or a limit that moved meanwhile, ``note``): never applied then.
    """

    __tablename__ = "pending_limit_changes"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    decision_id: Mapped[int] = mapped_column(ForeignKey("limit_decisions.id"), unique=True)
    account_id: Mapped[str] = mapped_column(String(64), ForeignKey("accounts.account_id"))
    old_limit_minor: Mapped[int] = mapped_column(BigInteger)
    new_limit_minor: Mapped[int] = mapped_column(BigInteger)
    decided_on: Mapped[dt.date] = mapped_column(Date)
    effective_on: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))  # pending | applied | superseded
    applied_on: Mapped[dt.date | None] = mapped_column(Date)  # the as-of date of the job
    applied_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    apply_batch: Mapped[str | None] = mapped_column(String(32))
    superseded_by: Mapped[int | None] = mapped_column(_ID)  # the later decision's id
    note: Mapped[str | None] = mapped_column(Text)
    policy_version: Mapped[str] = mapped_column(String(64))
    model_version: Mapped[str | None] = mapped_column(String(128))

    __table_args__ = (
        Index("ix_pending_limit_changes_account_status", "account_id", "status"),
        Index("ix_pending_limit_changes_status_effective", "status", "effective_on"),
        Index("ix_pending_limit_changes_apply_batch", "apply_batch"),
    )


class LimitWatch(Base):
    """An account watched after a large increase."""

    __tablename__ = "limit_watch"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    account_id: Mapped[str] = mapped_column(String(64), ForeignKey("accounts.account_id"))
    decision_id: Mapped[int] = mapped_column(ForeignKey("limit_decisions.id"), unique=True)
    started_on: Mapped[dt.date] = mapped_column(Date)
    ends_on: Mapped[dt.date] = mapped_column(Date)  # statements with cycle_date < ends_on count
    old_limit_minor: Mapped[int] = mapped_column(BigInteger)
    new_limit_minor: Mapped[int] = mapped_column(BigInteger)
    policy_version: Mapped[str] = mapped_column(String(64))

    __table_args__ = (Index("ix_limit_watch_account_id", "account_id"),)


class WatchFlag(Base):
    """A watch rule that fired on one statement of a watched account."""

    __tablename__ = "watch_flags"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    watch_id: Mapped[int] = mapped_column(ForeignKey("limit_watch.id"))
    account_id: Mapped[str] = mapped_column(String(64))
    cycle_date: Mapped[dt.date] = mapped_column(Date)
    rule: Mapped[str] = mapped_column(String(32))
    reason_code: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(Text)
    flagged_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )

    __table_args__ = (
        UniqueConstraint("watch_id", "cycle_date", "rule", name="uq_watch_flags_watch_cycle_rule"),
    )


class WatchAction(Base):
    """What followed one watch flag, as the policy's ``watch_actions`` said (its audit record:
    the flag, the action, the policy version). One per flag.

    ``action``: ``notice`` (queued in the outbox, ``status`` ``queued``), ``hold_increases``
    (``hold_until``: no increase before it; ``active``), ``early_review`` (the account may be
    reviewed again within its cycle on the statements since its last decision; ``pending``
    until a decision follows the flagged statement), ``analyst_case`` (a case for an analyst,
    opened in ``review_cases``: ``opened``, ``case_id``).
    """

    __tablename__ = "watch_actions"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    watch_id: Mapped[int] = mapped_column(ForeignKey("limit_watch.id"))
    account_id: Mapped[str] = mapped_column(String(64))
    flag_cycle_date: Mapped[dt.date] = mapped_column(Date)  # the flagged statement's cycle
    rule: Mapped[str] = mapped_column(String(32))
    reason_code: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    hold_until: Mapped[dt.date | None] = mapped_column(Date)
    case_id: Mapped[int | None] = mapped_column(_ID)  # the analyst's case it opened
    policy_version: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )

    __table_args__ = (
        UniqueConstraint(
            "watch_id", "flag_cycle_date", "rule", name="uq_watch_actions_watch_cycle_rule"
        ),
        Index("ix_watch_actions_account_action", "account_id", "action"),
    )


def cycle_decisions(alias: str = "") -> str:
    """SQL condition for the decisions of the cycle ``:cycle``, found through the cycle's runs.

    A decision's cycle is its run's, and ix_limit_decisions_run_account leads with the run
    (there is no index on cycle_id alone, migration 0011). ``alias``: the decisions table's
    alias in the query, if it has one.
    """
    column = f"{alias}." if alias else ""
    return (
        f"{column}cycle_id = :cycle"
        f" AND {column}run_id IN (SELECT id FROM review_runs WHERE cycle_id = :cycle)"
    )
