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
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from cardpilot.store.access import checked_url, has_schema, missing, unreachable

MIGRATIONS = Path(__file__).parent / "migrations"

# Alembic narrates every step (and every plugin it loads) at INFO; a user running a command
# needs none of it, and warnings still come through.
logging.getLogger("alembic").setLevel(logging.WARNING)

_upgrade_lock = threading.Lock()

# How long a statement waits for a lock another process holds (SQLite's write lock, a
# PostgreSQL table lock) before it fails with ``StoreBusyError``.
LOCK_TIMEOUT_SECONDS = 30.0
# SQLite's page cache per connection (KiB), and the write-ahead log's length (pages) at which a
# commit copies it back into the database file.
SQLITE_CACHE_KIB = 65_536
SQLITE_WAL_CHECKPOINT_PAGES = 10_000
# A key for PostgreSQL's advisory lock that serialises schema upgrades ("cardpilot" in ASCII).
_UPGRADE_LOCK_KEY = 0x63617264_70696C6F


class StoreBusyError(RuntimeError):
    """Another process held the store's lock for longer than the lock timeout."""


def busy_error(exc: BaseException, url: str | URL, waited: float) -> StoreBusyError | None:
    """``exc`` as a one-line ``StoreBusyError`` when it is a lock wait that timed out."""
    text = str(exc).lower()
    sqlstate = getattr(exc, "sqlstate", None) or getattr(getattr(exc, "orig", None), "sqlstate", "")
    locked = (
        "database is locked" in text
        or "database table is locked" in text
        or "lock timeout" in text
        or sqlstate == "55P03"
    )
    if not locked:
        return None
    where = normalise_url(url).render_as_string(hide_password=True)
    return StoreBusyError(
        f"the store {where} is busy: another process held its lock for more than "
        f"{waited:g} s; run again when it has finished (or wait longer with --lock-timeout)"
    )


def sqlite_busy_pragma(seconds: float) -> str:
    """SQLite's ``busy_timeout`` pragma (without ``PRAGMA``) for a wait of ``seconds``."""
    return f"busy_timeout={max(0, round(seconds * 1000))}"


def sqlite_file(url: str | URL) -> Path | None:
    """The file of a SQLite store (None for PostgreSQL and in-memory stores)."""
    parsed = normalise_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database).expanduser()


def remove_sqlite_file(path: Path) -> None:
    """Delete a SQLite store file and its journal, write-ahead log and shared memory."""
    for suffix in ("", "-journal", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def normalise_url(url: str | URL) -> URL:
    """Pick the drivers cardpilot ships with: psycopg 3 for PostgreSQL, pysqlite for SQLite."""
    parsed = checked_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def is_sqlite(url: str | URL) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_pragmas(lock_timeout: float, dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers (reports, the API) run while a batch writes; NORMAL sync is durable
    # across application crashes in WAL mode and much faster than FULL.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # SQLite ignores foreign keys unless asked, per connection.
    cursor.execute("PRAGMA foreign_keys=ON")
    # A batch of events lands all over the ledger's, the receipts' and the features' indexes;
    # with SQLite's default 2 MB page cache each of those pages was read again (and its WAL
    # frame looked up) for every batch. The cache is allocated as pages are read.
    cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    # A checkpoint copies every page the log holds once: a longer log between checkpoints
    # copies a page rewritten by many transactions fewer times.
    cursor.execute(f"PRAGMA wal_autocheckpoint={SQLITE_WAL_CHECKPOINT_PAGES}")
    cursor.execute(f"PRAGMA {sqlite_busy_pragma(lock_timeout)}")
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


def make_engine(url: str | URL, *, lock_timeout: float | None = None, **kwargs: Any) -> Engine:
    """An engine on ``url``; for SQLite, creates the folder and sets the pragmas per connection.

    ``lock_timeout``: how long a statement waits for another process's lock (SQLite's write
    lock; PostgreSQL's row and table locks) before it fails; default ``LOCK_TIMEOUT_SECONDS``.
    """
    parsed = normalise_url(url)
    seconds = LOCK_TIMEOUT_SECONDS if lock_timeout is None else lock_timeout
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, **kwargs)
        event.listen(engine, "connect", partial(_sqlite_pragmas, seconds))
        if parsed.database and parsed.database != ":memory:":
            key = sqlite_file_key(parsed.database)
            event.listen(engine, "do_connect", partial(_refuse_during_bulk, key))
            event.listen(engine, "connect", partial(_track_pysqlite, key))
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    if lock_timeout is not None:
        options = kwargs.setdefault("connect_args", {}).get("options", "")
        kwargs["connect_args"]["options"] = f"{options} -c lock_timeout={round(seconds * 1000)}"
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
    """Bring the store at ``url`` to ``revision``; a store already there costs one query.

    Upgrades are serialised across processes (SQLite: the write lock taken before the revision
    is read again; PostgreSQL: an advisory lock), so two commands starting on a new store at
    once build its schema once.
    """
    from alembic import command

    engine = make_engine(url)
    try:
        if revision == "head" and _reachable_revision(engine, url) == head_revision():
            return
    finally:
        engine.dispose()
    engine = make_engine(url)
    try:
        if engine.dialect.name == "sqlite":
            _begin_immediately(engine)
        with _upgrade_lock, engine.begin() as connection:
            if engine.dialect.name == "postgresql":
                connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_UPGRADE_LOCK_KEY})")
            if revision == "head" and _revision_of(connection) == head_revision():
                return  # another process upgraded it while this one waited
            config = alembic_config(url)
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        engine.dispose()


def _begin_immediately(engine: Engine) -> None:
    """Transactions on ``engine`` start with SQLite's write lock (``BEGIN IMMEDIATE``)."""

    def autocommit_driver(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # the driver's own BEGIN stays out of the way

    def begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    event.listen(engine, "connect", autocommit_driver)
    event.listen(engine, "begin", begin)


def _revision_of(connection: Any) -> str | None:
    from alembic.runtime.migration import MigrationContext

    revision: str | None = MigrationContext.configure(connection).get_current_revision()
    return revision


def _reachable_revision(engine: Engine, url: str | URL) -> str | None:
    try:
        return current_revision(engine)
    except DBAPIError as exc:
        raise busy_error(exc, url, LOCK_TIMEOUT_SECONDS) or unreachable(exc, url) from exc


def require_store(url: str | URL) -> None:
    """Refuse (``StoreMissingError``) a URL with no cardpilot store, creating nothing."""
    path = sqlite_file(url)
    if path is not None and not path.is_file():
        raise missing(url)
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            present = has_schema(connection)
    except DBAPIError as exc:
        raise unreachable(exc, url) from exc
    finally:
        engine.dispose()
    if not present:
        raise missing(url)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return _revision_of(connection)


def open_store(url: str | URL, *, lock_timeout: float | None = None, create: bool = True) -> Engine:
    """Upgrade the store if needed and return an engine on it: what commands call.

    ``create=False``: refuse a URL with no store (``StoreMissingError``) instead of making one.
    """
    if not create:
        require_store(url)
    upgrade(url)
    return make_engine(url, lock_timeout=lock_timeout)
