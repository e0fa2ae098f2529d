"""Shared fixtures. ``store_url`` runs a store test on SQLite and on PostgreSQL.

PostgreSQL is the server on loopback named by ``CARDPILOT_TEST_POSTGRES_URL`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``). Each test session creates a fresh
uniquely named database there and drops it at the end; each test gets an empty schema. When
the server is unreachable the PostgreSQL cases are skipped with the reason, unless
``CARDPILOT_REQUIRE_POSTGRES=1`` (CI), where that is a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import URL, make_url

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def _libpq(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_database_url() -> Iterator[URL]:
    """A fresh database on the loopback PostgreSQL server for this test session."""
    import psycopg

    admin = make_url(os.environ.get("CARDPILOT_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL))
    required = os.environ.get("CARDPILOT_REQUIRE_POSTGRES") == "1"
    try:
        conn = psycopg.connect(_libpq(admin), autocommit=True, connect_timeout=3)
    except psycopg.Error as exc:
        where = f"{admin.host}:{admin.port or 5432}"
        message = f"PostgreSQL not reachable at {where} ({str(exc).strip().splitlines()[0]})"
        if required:
            pytest.fail(f"{message}; CARDPILOT_REQUIRE_POSTGRES=1 makes this a failure")
        pytest.skip(f"{message}; set CARDPILOT_TEST_POSTGRES_URL to run the PostgreSQL cases")
    name = f"cardpilot_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.set(drivername="postgresql+psycopg", database=name)
    finally:
        with psycopg.connect(_libpq(admin), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _empty_postgres(url: URL) -> None:
    import psycopg

    with psycopg.connect(_libpq(url), autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
        conn.execute("CREATE SCHEMA public")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty store: a SQLite file, or an empty schema on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    url: URL = request.getfixturevalue("postgres_database_url")
    _empty_postgres(url)
    return url.render_as_string(hide_password=False)
