"""Facts about the whole portfolio in the store that batch jobs start from."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, text


def account_count(db: Engine) -> int:
    with db.connect() as conn:
        return int(conn.execute(text("SELECT COUNT(*) FROM accounts")).scalar_one())


def account_currencies(db: Engine) -> list[str]:
    """The currencies of the store's accounts, sorted."""
    with db.connect() as conn:
        rows = conn.execute(text("SELECT DISTINCT currency FROM accounts"))
        return sorted(str(r[0]) for r in rows)


def other_currencies(db: Engine, currency: str) -> list[str]:
    """Currencies of the store's accounts other than ``currency`` (a policy's), sorted."""
    return [c for c in account_currencies(db) if c != currency]


def _as_date(value: object) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def latest_cycle_date(db: Engine) -> dt.date | None:
    """The latest statement cycle in the store (None: no statements)."""
    with db.connect() as conn:
        return _as_date(conn.execute(text("SELECT MAX(cycle_date) FROM statements")).scalar())


def latest_cycle_due_date(db: Engine) -> dt.date | None:
    """The latest due date of the statements of the latest cycle (None: no statements)."""
    with db.connect() as conn:
        value = conn.execute(
            text(
                "SELECT max(due_date) FROM statements"
                " WHERE cycle_date = (SELECT max(cycle_date) FROM statements)"
            )
        ).scalar_one_or_none()
    return _as_date(value)


def first_customer_ids(db: Engine, n: int) -> list[str]:
    """The first ``n`` customer ids in id order (a demo's sample)."""
    with db.connect() as conn:
        rows = conn.execute(
            text("SELECT customer_id FROM customers ORDER BY customer_id LIMIT :n"), {"n": n}
        ).scalars()
        return [str(r) for r in rows]
