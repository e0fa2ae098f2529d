"""Reason texts stored once per distinct list, not in every decision.

A decision row carried the zh-CN and en texts of its reasons as two JSON arrays: 470 of the
820 bytes each of a million decisions took in SQLite (783 MB), though a review of a million
accounts gives only a few dozen distinct lists. Writing them was about a tenth of the 1M
review's CPU (the SQLite writer's append, its WAL and checkpoints: 2.2-4.6 CPU-s over three
pairs of runs). A text set is now a row of ``reason_text_sets``, keyed by a digest of its two
arrays, and a decision refers to it by ``reason_texts_id``.

Decisions already stored keep their texts where they are (their ``reason_texts_id`` is NULL);
new ones leave the two columns empty. Readers take the set's texts, else the decision's own.
Nothing is rewritten, so the upgrade is instant on a store of any size, and SQLite needs no
copy of the table (which its foreign keys from ``limit_watch`` would refuse).

Revision ID: 0013_reason_text_sets
Revises: 0012_statements_review_sqlite
Create Date: 2026-12-02 04:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_reason_text_sets"
down_revision: str | None = "0012_statements_review_sqlite"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


_FK = "fk_limit_decisions_reason_texts_id_reason_text_sets"


def upgrade() -> None:
    op.create_table(
        "reason_text_sets",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("texts_zh", sa.Text(), nullable=False),
        sa.Column("texts_en", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reason_text_sets")),
    )
    # A plain ADD COLUMN on both stores: on SQLite a new column may carry a foreign key when
    # its default is NULL, so no batch copy of the table is needed (Alembic would add the key
    # as a separate constraint, which SQLite cannot ALTER in: the column is declared whole).
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "ALTER TABLE limit_decisions ADD COLUMN reason_texts_id VARCHAR(32)"
            f" CONSTRAINT {_FK} REFERENCES reason_text_sets (id)"
        )
        return
    op.add_column(
        "limit_decisions",
        sa.Column(
            "reason_texts_id",
            sa.String(length=32),
            sa.ForeignKey("reason_text_sets.id", name=op.f(_FK)),
            nullable=True,
        ),
    )


def downgrade() -> None:
    # Decisions stored since the upgrade get their texts back into their own columns first.
    # (On SQLite the column goes by a batch copy of the table, which SQLite's foreign keys
    # refuse while watches refer to decisions: a SQLite store with watches cannot go back.)
    op.execute(
        "UPDATE limit_decisions SET"
        " reason_texts_zh = (SELECT s.texts_zh FROM reason_text_sets s"
        "  WHERE s.id = limit_decisions.reason_texts_id),"
        " reason_texts_en = (SELECT s.texts_en FROM reason_text_sets s"
        "  WHERE s.id = limit_decisions.reason_texts_id)"
        " WHERE reason_texts_id IS NOT NULL"
    )
    with op.batch_alter_table("limit_decisions") as batch:
        batch.drop_column("reason_texts_id")
    op.drop_table("reason_text_sets")
