"""Alembic environment for the portfolio store (run through ``cardpilot.store.db.upgrade``)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from cardpilot.store.db import make_engine
from cardpilot.store.models import Base, built_on, import_all_models

# Every part of cardpilot keeps its tables in a ``cardpilot/store/*models.py`` module on the
# same ``Base``; all of them must be loaded for autogenerate to see the whole schema.
import_all_models()

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things in place; batch mode copies the table instead.
        render_as_batch=True,
        compare_type=True,
        # Autogenerate compares with this store only what the models build on it.
        include_object=built_on(connection.dialect.name),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
