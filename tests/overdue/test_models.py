"""The aging_snapshots migration builds exactly the AgingSnapshot model."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

import cardpilot.store.overdue_models  # noqa: F401 - puts the model on Base.metadata
from cardpilot.store.db import make_engine, upgrade
from cardpilot.store.models import Base


def _only_aging(obj: object, name: str | None, type_: str, *_: object) -> bool:
    if type_ == "table":
        return name == "aging_snapshots"
    table = getattr(obj, "table", None)
    return table is None or table.name == "aging_snapshots"


def test_migration_matches_the_aging_snapshot_model(store_url: str) -> None:
    upgrade(store_url)
    engine = make_engine(store_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"include_object": _only_aging})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()
