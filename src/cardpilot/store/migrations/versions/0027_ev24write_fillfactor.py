"""``event_account_features`` keeps half of each PostgreSQL page free (``fillfactor`` 50).

Every batch of the event consumer rewrites the features of each account it touches. With room
on the row's own page the new version goes there (a heap-only update): the primary key gets no
new entry, and the old version is pruned when the page is next visited. Pages filled before
this keep their rows until they are rewritten (``VACUUM FULL``, or as rows move). SQLite has
no such setting: nothing changes there.

Revision ID: 0027_ev24write_fillfactor
Revises: 0026_api24read_idempotency
Create Date: 2026-12-06 03:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0027_ev24write_fillfactor"
down_revision: str | None = "0026_api24read_idempotency"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE event_account_features SET (fillfactor = 50)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE event_account_features RESET (fillfactor)")
