"""Engines, sessions and schema upgrades for the portfolio store.

SQLite (a file under ``Settings.home``) is the embedded default; PostgreSQL is selected with
``CARDPILOT_DATABASE_URL`` or ``--database``. Both run the same Alembic migrations, shipped in
``cardpilot/store/migrations``, and every command that touches the store calls ``upgrade``
first, so a new version of cardpilot brings an old store up to date by itself.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"

# Alembic narrates every step (and every plugin it loads) at INFO; a user running a command
# needs none of it, and warnings still come through.
logging.getLogger("alembic").setLevel(logging.WARNING)

_upgrade_lock = threading.Lock()


def normalise_url(url: str | URL) -> URL:
    """Pick the drivers cardpilot ships with: psycopg 3 for PostgreSQL, pysqlite for SQLite."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def is_sqlite(url: str | URL) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers (reports, the API) run while a batch writes; NORMAL sync is durable
    # across application crashes in WAL mode and much faster than FULL.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # SQLite ignores foreign keys unless asked, per connection.
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_engine(url: str | URL, **kwargs: Any) -> Engine:
    """An engine on ``url``; for SQLite, creates the folder and sets the pragmas per connection."""
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(parsed, **kwargs)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def unit_of_work(engine: Engine) -> Iterator[Session]:
    """One transaction: committed when the block ends normally, rolled back on any error."""
    session = session_factory(engine)()
    try:
        with session.begin():
            yield session
    finally:
        session.close()


def alembic_config(url: str | URL) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # ConfigParser interpolation would read '%' in passwords as a placeholder.
    rendered = normalise_url(url).render_as_string(hide_password=False).replace("%", "%%")
    config.set_main_option("sqlalchemy.url", rendered)
    return config


@lru_cache(maxsize=1)
def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


def upgrade(url: str | URL, revision: str = "head") -> None:
    """Bring the store at ``url`` to ``revision``; a store already there costs one query."""
    from alembic import command

    engine = make_engine(url)
    try:
        if revision == "head" and current_revision(engine) == head_revision():
            return
        with _upgrade_lock, engine.begin() as connection:
            config = alembic_config(url)
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        engine.dispose()


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        revision: str | None = MigrationContext.configure(connection).get_current_revision()
    return revision


def open_store(url: str | URL) -> Engine:
    """Upgrade the store if needed and return an engine on it: what commands call."""
    upgrade(url)
    return make_engine(url)
