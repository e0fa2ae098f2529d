"""The portfolio store: SQLAlchemy 2 models.

Money columns end in ``_minor`` and hold integer minor units of the account's currency.
Timestamps are timezone-aware (stored as UTC); calendar dates (statement cycle, due date)
are plain dates in the issuer's time zone (``Settings.timezone``, default Asia/Shanghai).

Personal data (name, national ID, phone, e-mail) is never stored in plain text: the ``*_enc``
columns hold AES-GCM ciphertext tagged with the key id (see ``cardpilot.privacy``), and
``national_id_hmac`` is a keyed blind index so duplicates can be found without decrypting.

Natural keys make every import idempotent: customers and accounts by their bank ids,
statements by (account, cycle date), transactions by their bank id.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Text,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Stable constraint names so Alembic migrations are the same on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Customer(Base):
    __tablename__ = "customers"

    customer_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    national_id_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    phone_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    email_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    national_id_hmac: Mapped[bytes | None] = mapped_column(LargeBinary, index=True)
    pii_key_id: Mapped[str | None] = mapped_column(String(32))
    birth_year: Mapped[int | None] = mapped_column(SmallInteger)
    education: Mapped[str | None] = mapped_column(String(16))
    # Protected attributes: kept for fairness measurement only, never a model or policy input.
    sex: Mapped[str | None] = mapped_column(String(8))
    marital_status: Mapped[str | None] = mapped_column(String(8))
    annual_income_minor: Mapped[int | None] = mapped_column(BigInteger)
    locale: Mapped[str] = mapped_column(String(8), default="zh-CN", server_default="zh-CN")
    timezone: Mapped[str] = mapped_column(
        String(40), default="Asia/Shanghai", server_default="Asia/Shanghai"
    )
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )

    __table_args__ = (
        CheckConstraint("annual_income_minor IS NULL OR annual_income_minor >= 0", name="income"),
    )


class Account(Base):
    __tablename__ = "accounts"

    account_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("customers.customer_id"), index=True
    )
    currency: Mapped[str] = mapped_column(String(3), default="CNY", server_default="CNY")
    credit_limit_minor: Mapped[int] = mapped_column(BigInteger)
    temp_limit_minor: Mapped[int | None] = mapped_column(BigInteger)
    temp_limit_expires_on: Mapped[dt.date | None] = mapped_column(Date)
    open_date: Mapped[dt.date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="active", server_default="active")
    # Filled by later stages (grading, segmentation, reviews).
    grade: Mapped[str | None] = mapped_column(String(16))
    segment: Mapped[str | None] = mapped_column(String(32))
    last_review_on: Mapped[dt.date | None] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    __table_args__ = (
        CheckConstraint("credit_limit_minor >= 0", name="limit_non_negative"),
        CheckConstraint("temp_limit_minor IS NULL OR temp_limit_minor >= 0", name="temp_limit"),
        CheckConstraint(
            "status IN ('active', 'frozen', 'closed', 'charged_off')", name="status_known"
        ),
    )


# The statement columns the limit review reads besides the key (``ix_statements_review``).
REVIEW_READ_COLUMNS = (
    "credit_limit_minor",
    "statement_balance_minor",
    "minimum_due_minor",
    "amount_paid_minor",
    "purchases_minor",
    "cash_advances_minor",
    "repayment_status",
    "days_past_due",
)


class Statement(Base):
    """One monthly statement cycle of an account."""

    __tablename__ = "statements"

    account_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("accounts.account_id"), primary_key=True
    )
    cycle_date: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    due_date: Mapped[dt.date | None] = mapped_column(Date)
    credit_limit_minor: Mapped[int | None] = mapped_column(BigInteger)
    # Negative balances are real (an overpaid card carries a credit balance).
    statement_balance_minor: Mapped[int] = mapped_column(BigInteger)
    minimum_due_minor: Mapped[int | None] = mapped_column(BigInteger)
    amount_paid_minor: Mapped[int] = mapped_column(BigInteger)
    purchases_minor: Mapped[int | None] = mapped_column(BigInteger)
    cash_advances_minor: Mapped[int | None] = mapped_column(BigInteger)
    # The issuer's repayment status code for the cycle (UCI scale: -2 no consumption,
    # -1 paid in full, 0 revolving, 1..9 months of payment delay); see docs/data-formats.md.
    repayment_status: Mapped[int | None] = mapped_column(SmallInteger)
    days_past_due: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    __table_args__ = (
        CheckConstraint("days_past_due >= 0", name="dpd_non_negative"),
        CheckConstraint("amount_paid_minor >= 0", name="paid_non_negative"),
        # The covering index of what the limit review reads, in account order (migration 0008),
        # on SQLite only (migration 0012): there a statement's row sits in load order and each
        # look-up through the key costs microseconds. On PostgreSQL a first import writes the
        # table in key order, later cycles append in key order, and the key with the table's
        # rows serves the same read. No index on cycle_date alone (migration 0010).
        Index("ix_statements_review", "account_id", "cycle_date", *REVIEW_READ_COLUMNS).ddl_if(
            dialect="sqlite"
        ),
    )


class Transaction(Base):
    __tablename__ = "transactions"

    transaction_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("accounts.account_id"), index=True
    )
    posted_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    kind: Mapped[str] = mapped_column(String(16))
    # Always positive; the kind says whether it adds to or reduces the balance.
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), default="CNY", server_default="CNY")
    merchant_category: Mapped[str | None] = mapped_column(String(8))

    __table_args__ = (
        CheckConstraint("amount_minor >= 0", name="amount_non_negative"),
        CheckConstraint(
            "kind IN ('purchase', 'cash_advance', 'payment', 'fee', 'interest', 'refund')",
            name="kind_known",
        ),
    )


class LimitChange(Base):
    """Limit history: every change of an account's limit, with what made it."""

    __tablename__ = "limit_history"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    account_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("accounts.account_id"), index=True
    )
    effective_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    old_limit_minor: Mapped[int | None] = mapped_column(BigInteger)
    new_limit_minor: Mapped[int] = mapped_column(BigInteger)
    source: Mapped[str] = mapped_column(String(16))  # import, review, assign, manual, overdue
    decision_id: Mapped[str | None] = mapped_column(String(64))
    policy_version: Mapped[str | None] = mapped_column(String(64))
    model_version: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)


class PerformanceLabel(Base):
    """An observed outcome kept for modelling (e.g. UCI ``Y``: default in October 2005)."""

    __tablename__ = "performance_labels"

    account_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("accounts.account_id"), primary_key=True
    )
    label: Mapped[str] = mapped_column(String(32), primary_key=True)
    observed_on: Mapped[dt.date] = mapped_column(Date)
    value: Mapped[bool] = mapped_column(Boolean)


class ImportRun(Base):
    """One run of ``cardpilot import``: what it read, added and rejected."""

    __tablename__ = "import_runs"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    source: Mapped[str] = mapped_column(Text)
    layout: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    customers_added: Mapped[int] = mapped_column(Integer, default=0)
    accounts_added: Mapped[int] = mapped_column(Integer, default=0)
    statements_added: Mapped[int] = mapped_column(Integer, default=0)
    transactions_added: Mapped[int] = mapped_column(Integer, default=0)
    labels_added: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    rejects_file: Mapped[str | None] = mapped_column(Text)
    # running, finished, failed, or interrupted (its process ended without finishing it: seen
    # by the next import, cardpilot.store.import_runs.mark_interrupted_runs).
    status: Mapped[str] = mapped_column(String(16), default="running", server_default="running")
    host: Mapped[str | None] = mapped_column(String(255))  # where the run's process ran
    pid: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)  # why a failed run failed


# Every module that declares tables on ``Base``, so Alembic and ``create_all`` see them all.
MODEL_MODULES: tuple[str, ...] = (
    "cardpilot.store.models",
    "cardpilot.store.review_models",
    "cardpilot.store.notify_models",
    "cardpilot.store.overdue_models",
    "cardpilot.store.audit_models",
    "cardpilot.store.case_models",
    "cardpilot.store.ledger_models",
    "cardpilot.store.customer_models",
    "cardpilot.store.event_models",
    "cardpilot.store.warning_models",
    "cardpilot.store.service_models",
    "cardpilot.store.experiment_models",
)


def import_all_models() -> None:
    """Load every module in ``MODEL_MODULES``, so ``Base.metadata`` has all tables."""
    import importlib

    for name in MODEL_MODULES:
        importlib.import_module(name)


def built_on(dialect: str) -> Callable[..., bool]:
    """An Alembic ``include_object`` hook for comparing the models with a ``dialect`` store.

    Alembic's comparison does not read ``ddl_if``: without this it would report an object the
    models build on another store only (``ix_statements_review``, SQLite) as missing here.
    """

    def include(obj: object, name: str | None, type_: str, reflected: bool, *_: object) -> bool:
        only = getattr(obj, "_ddl_if", None)
        return reflected or only is None or only.dialect in (None, dialect)

    return include
