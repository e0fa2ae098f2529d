"""Initial schema: customers, accounts, statements, transactions, limits, labels, runs.

Revision ID: 0001
Revises:
Create Date: 2026-11-23 09:38:46.173100
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "customers",
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("name_enc", sa.LargeBinary(), nullable=True),
        sa.Column("national_id_enc", sa.LargeBinary(), nullable=True),
        sa.Column("phone_enc", sa.LargeBinary(), nullable=True),
        sa.Column("email_enc", sa.LargeBinary(), nullable=True),
        sa.Column("national_id_hmac", sa.LargeBinary(), nullable=True),
        sa.Column("pii_key_id", sa.String(length=32), nullable=True),
        sa.Column("birth_year", sa.SmallInteger(), nullable=True),
        sa.Column("education", sa.String(length=16), nullable=True),
        sa.Column("sex", sa.String(length=8), nullable=True),
        sa.Column("marital_status", sa.String(length=8), nullable=True),
        sa.Column("annual_income_minor", sa.BigInteger(), nullable=True),
        sa.Column("locale", sa.String(length=8), server_default="zh-CN", nullable=False),
        sa.Column("timezone", sa.String(length=40), server_default="Asia/Shanghai", nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "annual_income_minor IS NULL OR annual_income_minor >= 0",
            name=op.f("ck_customers_income"),
        ),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_customers")),
    )
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_customers_national_id_hmac"), ["national_id_hmac"], unique=False
        )

    op.create_table(
        "import_runs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("layout", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("customers_added", sa.Integer(), nullable=False),
        sa.Column("accounts_added", sa.Integer(), nullable=False),
        sa.Column("statements_added", sa.Integer(), nullable=False),
        sa.Column("transactions_added", sa.Integer(), nullable=False),
        sa.Column("labels_added", sa.Integer(), server_default="0", nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("rejects_file", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_runs")),
    )
    op.create_table(
        "accounts",
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("currency", sa.String(length=3), server_default="CNY", nullable=False),
        sa.Column("credit_limit_minor", sa.BigInteger(), nullable=False),
        sa.Column("temp_limit_minor", sa.BigInteger(), nullable=True),
        sa.Column("temp_limit_expires_on", sa.Date(), nullable=True),
        sa.Column("open_date", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=16), server_default="active", nullable=False),
        sa.Column("grade", sa.String(length=16), nullable=True),
        sa.Column("segment", sa.String(length=32), nullable=True),
        sa.Column("last_review_on", sa.Date(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "status IN ('active', 'frozen', 'closed', 'charged_off')",
            name=op.f("ck_accounts_status_known"),
        ),
        sa.CheckConstraint("credit_limit_minor >= 0", name=op.f("ck_accounts_limit_non_negative")),
        sa.CheckConstraint(
            "temp_limit_minor IS NULL OR temp_limit_minor >= 0", name=op.f("ck_accounts_temp_limit")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.customer_id"],
            name=op.f("fk_accounts_customer_id_customers"),
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_accounts")),
    )
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_accounts_customer_id"), ["customer_id"], unique=False)

    op.create_table(
        "limit_history",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("effective_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("old_limit_minor", sa.BigInteger(), nullable=True),
        sa.Column("new_limit_minor", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("decision_id", sa.String(length=64), nullable=True),
        sa.Column("policy_version", sa.String(length=64), nullable=True),
        sa.Column("model_version", sa.String(length=64), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.account_id"],
            name=op.f("fk_limit_history_account_id_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_limit_history")),
    )
    with op.batch_alter_table("limit_history", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_limit_history_account_id"), ["account_id"], unique=False
        )

    op.create_table(
        "performance_labels",
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=32), nullable=False),
        sa.Column("observed_on", sa.Date(), nullable=False),
        sa.Column("value", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.account_id"],
            name=op.f("fk_performance_labels_account_id_accounts"),
        ),
        sa.PrimaryKeyConstraint("account_id", "label", name=op.f("pk_performance_labels")),
    )
    op.create_table(
        "statements",
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("cycle_date", sa.Date(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("credit_limit_minor", sa.BigInteger(), nullable=True),
        sa.Column("statement_balance_minor", sa.BigInteger(), nullable=False),
        sa.Column("minimum_due_minor", sa.BigInteger(), nullable=True),
        sa.Column("amount_paid_minor", sa.BigInteger(), nullable=False),
        sa.Column("purchases_minor", sa.BigInteger(), nullable=True),
        sa.Column("cash_advances_minor", sa.BigInteger(), nullable=True),
        sa.Column("repayment_status", sa.SmallInteger(), nullable=True),
        sa.Column("days_past_due", sa.Integer(), server_default="0", nullable=False),
        sa.CheckConstraint("amount_paid_minor >= 0", name=op.f("ck_statements_paid_non_negative")),
        sa.CheckConstraint("days_past_due >= 0", name=op.f("ck_statements_dpd_non_negative")),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.account_id"], name=op.f("fk_statements_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("account_id", "cycle_date", name=op.f("pk_statements")),
    )
    with op.batch_alter_table("statements", schema=None) as batch_op:
        batch_op.create_index("ix_statements_cycle_date", ["cycle_date"], unique=False)

    op.create_table(
        "transactions",
        sa.Column("transaction_id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), server_default="CNY", nullable=False),
        sa.Column("merchant_category", sa.String(length=8), nullable=True),
        sa.CheckConstraint(
            "kind IN ('purchase', 'cash_advance', 'payment', 'fee', 'interest', 'refund')",
            name=op.f("ck_transactions_kind_known"),
        ),
        sa.CheckConstraint("amount_minor >= 0", name=op.f("ck_transactions_amount_non_negative")),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.account_id"],
            name=op.f("fk_transactions_account_id_accounts"),
        ),
        sa.PrimaryKeyConstraint("transaction_id", name=op.f("pk_transactions")),
    )
    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_transactions_account_id"), ["account_id"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_transactions_account_id"))

    op.drop_table("transactions")
    with op.batch_alter_table("statements", schema=None) as batch_op:
        batch_op.drop_index("ix_statements_cycle_date")

    op.drop_table("statements")
    op.drop_table("performance_labels")
    with op.batch_alter_table("limit_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_limit_history_account_id"))

    op.drop_table("limit_history")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_accounts_customer_id"))

    op.drop_table("accounts")
    op.drop_table("import_runs")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customers_national_id_hmac"))

    op.drop_table("customers")
