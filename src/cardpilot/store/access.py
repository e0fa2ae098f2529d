"""Whether a store URL can be used: parsed, supported, its driver installed, reachable, present.

Each failure is a ``StoreAccessError`` whose message says what to fix, so an entry point can
print it as one line instead of a driver's traceback.
"""

from __future__ import annotations

import importlib.util

from sqlalchemy import inspect
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

SUPPORTED = ("sqlite", "postgresql")
EXAMPLES = "sqlite:////path/to/cardpilot.db or postgresql://user@host:5432/dbname"
# The module each supported driver needs, by SQLAlchemy driver name.
_DRIVER_MODULES = {"pysqlite": "sqlite3", "psycopg": "psycopg", "psycopg2": "psycopg2"}


class StoreAccessError(RuntimeError):
    """The store cannot be used as given; the message says what to fix."""


class StoreURLError(StoreAccessError):
    """The URL cannot be parsed, or names a database cardpilot does not support."""


class StoreDriverMissingError(StoreAccessError):
    """The URL names a driver that is not installed."""


class StoreUnreachableError(StoreAccessError):
    """The database server cannot be reached or refuses the connection."""


class StoreMissingError(StoreAccessError):
    """There is no cardpilot store at the URL (and the command only reads one)."""


def shown(url: str | URL) -> str:
    """The URL as it may be printed: the password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return str(url)


def checked_url(url: str | URL) -> URL:
    """``url`` parsed, on a supported backend, with its driver installed."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreURLError(
            f"{str(url)!r} is not a database URL; use {EXAMPLES} "
            "(--database or CARDPILOT_DATABASE_URL)"
        ) from None
    backend = parsed.get_backend_name()
    if backend == "postgres":
        backend = "postgresql"
    if backend not in SUPPORTED:
        raise StoreURLError(f"{backend} stores are not supported ({shown(parsed)}); use {EXAMPLES}")
    driver = parsed.get_driver_name()
    if backend == "postgresql" and "+" not in parsed.drivername:
        driver = "psycopg"
    module = _DRIVER_MODULES.get(driver)
    if module is None or importlib.util.find_spec(module) is None:
        raise StoreDriverMissingError(
            f"the driver {driver!r} for {shown(parsed)} is not installed; "
            "use postgresql+psycopg:// (shipped with cardpilot) or install it"
        )
    return parsed


def unreachable(exc: DBAPIError, url: str | URL) -> StoreUnreachableError:
    reason = str(getattr(exc, "orig", exc)).strip().splitlines()
    return StoreUnreachableError(
        f"cannot reach the store {shown(url)}: {reason[0] if reason else 'no answer'}; "
        "check that the server runs and the URL, user and password are right"
    )


def missing(url: str | URL) -> StoreMissingError:
    return StoreMissingError(
        f"there is no cardpilot store at {shown(url)}; check --database (or "
        "CARDPILOT_DATABASE_URL), or create one with `cardpilot import` or `cardpilot generate`"
    )


def has_schema(engine: object) -> bool:
    """Whether the database behind ``engine`` holds a cardpilot schema (Alembic's table)."""
    return bool(inspect(engine).has_table("alembic_version"))
