"""The stores the event benchmarks consume into: a migrated store holding the accounts (one
customer each), and a PostgreSQL database of their own, dropped at the end."""

from __future__ import annotations

import os
import uuid

from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from cardpilot.store.db import make_engine, upgrade
from cardpilot.store.models import Account, Customer

PG_ADMIN = os.environ.get(
    "CARDPILOT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def account_store(url: str, accounts: list[str]) -> Engine:
    """A migrated store at ``url`` holding ``accounts``, each with a customer of its own."""
    upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session, session.begin():
        session.execute(Customer.__table__.insert(), [{"customer_id": f"C{a}"} for a in accounts])
        session.execute(
            Account.__table__.insert(),
            [
                {"account_id": a, "customer_id": f"C{a}", "credit_limit_minor": 1_000_000}
                for a in accounts
            ],
        )
    return engine


def _admin_libpq() -> str:
    return make_url(PG_ADMIN).set(drivername="postgresql").render_as_string(hide_password=False)


def create_pg_database(prefix: str) -> tuple[str, str]:
    """A new PostgreSQL database on the admin URL's server: its URL and its name."""
    import psycopg

    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(_admin_libpq(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False), name


def drop_pg_database(name: str) -> None:
    import psycopg

    with psycopg.connect(_admin_libpq(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
