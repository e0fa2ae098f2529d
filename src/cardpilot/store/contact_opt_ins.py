"""Customers' consent to opt-in message topics (``contact_opt_ins``): the latest record wins;
withdrawing keeps the row with ``opted_in = false``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, bindparam, text
from sqlalchemy.dialects import postgresql, sqlite

from cardpilot.store.overdue_models import ContactOptIn


def known_customers(conn: Connection, customer_ids: list[str]) -> set[str]:
    """The ids of ``customer_ids`` that are in the store."""
    return set(
        conn.execute(
            text("SELECT customer_id FROM customers WHERE customer_id IN :ids").bindparams(
                bindparam("ids", expanding=True)
            ),
            {"ids": customer_ids},
        ).scalars()
    )


def upsert_opt_ins(
    conn: Connection,
    customer_ids: list[str],
    topic: str,
    *,
    opted_in: bool,
    at: dt.datetime,
    source: str,
) -> int:
    """Record each customer's consent (or its withdrawal) to ``topic``; returns rows written."""
    rows = [
        {"customer_id": c, "topic": topic, "opted_in": opted_in, "changed_at": at, "source": source}
        for c in customer_ids
    ]
    if not rows:
        return 0
    ins: Any = (
        postgresql.insert(ContactOptIn)
        if conn.dialect.name == "postgresql"
        else sqlite.insert(ContactOptIn)
    )
    stmt = ins.on_conflict_do_update(
        index_elements=["customer_id", "topic"],
        set_={
            "opted_in": ins.excluded.opted_in,
            "changed_at": ins.excluded.changed_at,
            "source": ins.excluded.source,
        },
    )
    conn.execute(stmt, rows)
    return len(rows)
