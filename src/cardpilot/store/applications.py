"""Decided applications in the store, and the accounts opened on acceptance.

Every function that writes takes the caller's connection, so the decisions, the customers and
accounts opened, their opening limit-history rows, their ledger events and the run's audit record
commit together or not at all (``cardpilot.jobs.apply``). Writes are insert-or-ignore on the
application id: a file decided again adds nothing and keeps the first decisions.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

import polars as pl
from sqlalchemy import Connection, Engine, bindparam, insert, text
from sqlalchemy.dialects import postgresql, sqlite

from cardpilot.store.customer_models import ApplicationDecision
from cardpilot.store.models import Account, Customer, LimitChange

# The stored decision's columns, as ``write_application_decisions`` takes them.
DECISION_COLUMNS = (
    "application_id",
    "customer_id",
    "account_id",
    "as_of",
    "decided_at",
    "grade",
    "action",
    "score",
    "pd",
    "initial_limit_minor",
    "affordability_cap_minor",
    "currency",
    "reason_codes",
    "reason_texts_zh",
    "reason_texts_en",
    "policy_version",
    "customer_policy_version",
    "model_version",
    "source",
)
_LISTS = ("reason_codes", "reason_texts_zh", "reason_texts_en")
_IN_BATCH = 500  # ids per IN list


def _insert(conn: Connection, table: Any) -> Any:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def decided_already(conn: Connection, application_ids: Sequence[str]) -> set[str]:
    """The ids among ``application_ids`` that have a stored decision."""
    found: set[str] = set()
    sql = text(
        "SELECT application_id FROM application_decisions WHERE application_id IN :ids"
    ).bindparams(bindparam("ids", expanding=True))
    for i in range(0, len(application_ids), _IN_BATCH):
        batch = list(application_ids[i : i + _IN_BATCH])
        found |= {str(r[0]) for r in conn.execute(sql, {"ids": batch})}
    return found


def accounts_there(conn: Connection, account_ids: Sequence[str]) -> set[str]:
    """The ids among ``account_ids`` the store already holds."""
    found: set[str] = set()
    sql = text("SELECT account_id FROM accounts WHERE account_id IN :ids").bindparams(
        bindparam("ids", expanding=True)
    )
    for i in range(0, len(account_ids), _IN_BATCH):
        batch = list(account_ids[i : i + _IN_BATCH])
        found |= {str(r[0]) for r in conn.execute(sql, {"ids": batch})}
    return found


def write_application_decisions(conn: Connection, decisions: pl.DataFrame) -> int:
    """Insert decisions (``DECISION_COLUMNS``; reason columns as lists); an application already
    decided is left as it was. Returns how many were added."""
    if decisions.height == 0:
        return 0
    rows = decisions.select(DECISION_COLUMNS).to_dicts()
    for row in rows:
        for key in _LISTS:
            row[key] = json.dumps(list(row[key] or []), ensure_ascii=False)
    table = ApplicationDecision.__table__
    statement = (
        _insert(conn, table)
        .on_conflict_do_nothing(index_elements=["application_id"])
        .returning(table.c.id)
    )
    return len(conn.execute(statement, rows).all())


def open_accounts(conn: Connection, opened: pl.DataFrame, effective_at: dt.datetime) -> int:
    """Customers (when new), accounts and their opening limit-history rows for accepted
    applications: ``customer_id, account_id, currency, initial_limit_minor,
    annual_income_minor, as_of, grade, application_id, policy_version, model_version``."""
    if opened.height == 0:
        return 0
    customers = Customer.__table__
    conn.execute(
        _insert(conn, customers).on_conflict_do_nothing(index_elements=["customer_id"]),
        opened.select("customer_id", "annual_income_minor").unique("customer_id").to_dicts(),
    )
    conn.execute(
        insert(Account),
        opened.select(
            "account_id",
            "customer_id",
            "currency",
            pl.col("initial_limit_minor").alias("credit_limit_minor"),
            pl.col("as_of").alias("open_date"),
            "grade",
        ).to_dicts(),
    )
    history = opened.select(
        "account_id",
        pl.lit(effective_at).alias("effective_at"),
        pl.lit(None, dtype=pl.Int64).alias("old_limit_minor"),
        pl.col("initial_limit_minor").alias("new_limit_minor"),
        pl.lit("apply").alias("source"),
        pl.col("application_id").alias("decision_id"),
        "policy_version",
        "model_version",
        pl.lit("opening limit").alias("note"),
    )
    conn.execute(insert(LimitChange), history.to_dicts())
    return opened.height


def read_application_decisions(db: Engine, application_ids: Sequence[str]) -> pl.DataFrame:
    """Stored decisions of ``application_ids`` (reason columns decoded to lists)."""
    sql = text(
        f"SELECT {', '.join(DECISION_COLUMNS)} FROM application_decisions"
        " WHERE application_id IN :ids ORDER BY id"
    ).bindparams(bindparam("ids", expanding=True))
    rows: list[dict[str, Any]] = []
    with db.connect() as conn:
        for i in range(0, len(application_ids), _IN_BATCH):
            batch = list(application_ids[i : i + _IN_BATCH])
            for r in conn.execute(sql, {"ids": batch}):
                row = dict(zip(DECISION_COLUMNS, r, strict=True))
                for key in _LISTS:
                    row[key] = json.loads(row[key])
                rows.append(row)
    return pl.DataFrame(rows, infer_schema_length=None)
