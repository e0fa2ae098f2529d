"""Engines, sessions and schema upgrades for the portfolio store.

SQLite (a file under ``Settings.home``) is the embedded default; PostgreSQL is selected with
``CARDPILOT_DATABASE_URL`` or ``--database``. Both run the same Alembic migrations, shipped in
``cardpilot/store/migrations``, and every command that touches the store calls ``upgrade``
first, so a new version of cardpilot brings an old store up to date by itself.
"""

from __future__ import annotations

import gc
import logging
import sqlite3
import threading
import weakref
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache, partial
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


class SQLiteLibraryClashError(RuntimeError):
    """A SQLite file would be open through two SQLite libraries in this process at once."""


# The ADBC driver links its own copy of SQLite; Python's sqlite3 uses the system's. Two copies
# in one process do not see each other's POSIX locks, and closing a file through one drops the
# locks the other holds, so the same file open through both at once can be corrupted
# (https://sqlite.org/howtocorrupt.html, 2.2.1). A file is therefore open through one library
# at a time per process: the bulk paths dispose their engines first, and these registries turn
# a mistake into an error instead of a damaged store. Other processes are unaffected.
_library_guard = threading.Lock()
_pysqlite_connections: dict[str, weakref.WeakSet[Any]] = {}
_bulk_holders: Counter[str] = Counter()


def sqlite_file_key(database: str) -> str:
    return str(Path(database).expanduser().resolve())


def _open_pysqlite(key: str) -> int:
    alive = 0
    # Pool records, held weakly: a record of a disposed or collected engine drops out by itself.
    for record in list(_pysqlite_connections.get(key, ())):
        connection = record.dbapi_connection
        if connection is None:
            continue
        try:
            connection.in_transaction  # noqa: B018 - raises once the connection is closed
        except sqlite3.ProgrammingError:
            continue
        alive += 1
    return alive


def _refuse_during_bulk(key: str, *_args: Any) -> None:
    # Before the file is opened: opening and then closing it would already drop the locks.
    with _library_guard:
        if _bulk_holders[key]:
            raise SQLiteLibraryClashError(
                f"{key} is open through the bulk (ADBC) SQLite library in this process; "
                "finish the bulk step before opening it through SQLAlchemy"
            )


def _track_pysqlite(key: str, _dbapi_connection: Any, record: Any) -> None:
    with _library_guard:
        _pysqlite_connections.setdefault(key, weakref.WeakSet()).add(record)


@contextmanager
def sqlite_bulk_access(database: str) -> Iterator[None]:
    """Hold while ADBC's SQLite has ``database`` open; refused while pysqlite has it open."""
    key = sqlite_file_key(database)
    if _open_pysqlite(key):
        # An engine dropped without dispose() keeps its pooled connection open until the
        # garbage collector breaks its reference cycles: let it, then count again.
        gc.collect()
    with _library_guard:
        still_open = _open_pysqlite(key)
        if still_open:
            raise SQLiteLibraryClashError(
                f"{key} has {still_open} SQLAlchemy connection(s) open in this process; "
                "dispose the engine (and let go of its connections) before bulk work on it"
            )
        _bulk_holders[key] += 1
    try:
        yield
    finally:
        with _library_guard:
            _bulk_holders[key] -= 1


def make_engine(url: str | URL, **kwargs: Any) -> Engine:
    """An engine on ``url``; for SQLite, creates the folder and sets the pragmas per connection."""
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        if parsed.database and parsed.database != ":memory:":
            key = sqlite_file_key(parsed.database)
            event.listen(engine, "do_connect", partial(_refuse_during_bulk, key))
            event.listen(engine, "connect", partial(_track_pysqlite, key))
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
