"""Requests for more credit in the store (``limit_requests``), and what a granted one changes.

Every function that writes takes the caller's connection, so a request's row, the account's
change, its limit-history row and its ledger event, and the audit record commit together
(``cardpilot.jobs.requests``).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import Connection, Date, DateTime, bindparam, text

_INSERT = text(
    "INSERT INTO limit_requests (account_id, kind, purpose, requested_minor, months, as_of,"
    " decided_at, action, grade, score, old_limit_minor, new_limit_minor,"
    " temporary_limit_minor, expires_on, status, reason_codes, reason_texts_zh,"
    " reason_texts_en, policy_version, customer_policy_version, model_version)"
    " VALUES (:account_id, :kind, :purpose, :requested_minor, :months, :as_of, :decided_at,"
    " :action, :grade, :score, :old_limit_minor, :new_limit_minor, :temporary_limit_minor,"
    " :expires_on, :status, :reason_codes, :reason_texts_zh, :reason_texts_en,"
    " :policy_version, :customer_policy_version, :model_version) RETURNING id"
).bindparams(
    bindparam("as_of", type_=Date),
    bindparam("expires_on", type_=Date),
    bindparam("decided_at", type_=DateTime(timezone=True)),
)


def last_limit_change_on(conn: Connection, account_id: str) -> dt.date | None:
    """The day of the account's latest limit change (its opening limit aside)."""
    value = conn.execute(
        text(
            "SELECT max(effective_at) FROM limit_history WHERE account_id = :a"
            " AND old_limit_minor IS NOT NULL"
        ),
        {"a": account_id},
    ).scalar()
    if value is None:
        return None
    return (
        value.date() if isinstance(value, dt.datetime) else dt.date.fromisoformat(str(value)[:10])
    )


def insert_request(conn: Connection, row: dict[str, Any]) -> int:
    """Store a decided request (reason lists as lists); its id."""
    values = dict(row)
    for key in ("reason_codes", "reason_texts_zh", "reason_texts_en"):
        values[key] = json.dumps(list(values[key]), ensure_ascii=False)
    return int(conn.execute(_INSERT, values).scalar_one())


def apply_permanent(
    conn: Connection,
    request_id: int,
    account_id: str,
    old: int,
    new: int,
    at: dt.datetime,
    versions: tuple[str, str | None],
) -> None:
    """The new limit on the account and its row in the limit history (source ``request``)."""
    conn.execute(
        text("UPDATE accounts SET credit_limit_minor = :new WHERE account_id = :a"),
        {"new": new, "a": account_id},
    )
    conn.execute(
        text(
            "INSERT INTO limit_history (account_id, effective_at, old_limit_minor,"
            " new_limit_minor, source, decision_id, policy_version, model_version, note)"
            " VALUES (:a, :at, :old, :new, 'request', :d, :policy, :model, 'customer request')"
        ).bindparams(bindparam("at", type_=DateTime(timezone=True))),
        {
            "a": account_id,
            "at": at,
            "old": old,
            "new": new,
            "d": f"request:{request_id}",
            "policy": versions[0],
            "model": versions[1],
        },
    )


def set_temporary(conn: Connection, account_id: str, amount: int, expires_on: dt.date) -> None:
    conn.execute(
        text(
            "UPDATE accounts SET temp_limit_minor = :amount, temp_limit_expires_on = :until"
            " WHERE account_id = :a"
        ).bindparams(bindparam("until", type_=Date)),
        {"amount": amount, "until": expires_on, "a": account_id},
    )


def due_to_expire(conn: Connection, as_of: dt.date) -> list[tuple[int, str, int, dt.date]]:
    """Active temporary limits whose expiry date is on or before ``as_of``:
    ``(request id, account id, amount, expires on)``."""
    rows = conn.execute(
        text(
            "SELECT id, account_id, temporary_limit_minor, expires_on FROM limit_requests"
            " WHERE status = 'active' AND expires_on <= :d ORDER BY id"
        )
        .bindparams(bindparam("d", type_=Date))
        .columns(expires_on=Date),
        {"d": as_of},
    ).all()
    return [(int(r[0]), str(r[1]), int(r[2]), r[3]) for r in rows]


def expire_request(conn: Connection, request_id: int, account_id: str, expires_on: dt.date) -> None:
    """The request marked expired and the account's temporary limit taken off (unless a later
    one replaced it)."""
    conn.execute(
        text("UPDATE limit_requests SET status = 'expired' WHERE id = :id AND status = 'active'"),
        {"id": request_id},
    )
    conn.execute(
        text(
            "UPDATE accounts SET temp_limit_minor = NULL, temp_limit_expires_on = NULL"
            " WHERE account_id = :a AND temp_limit_expires_on = :until"
        ).bindparams(bindparam("until", type_=Date)),
        {"a": account_id, "until": expires_on},
    )


def supersede_active(conn: Connection, account_id: str) -> None:
    """An account's active temporary limit, replaced by a new one, marked expired."""
    conn.execute(
        text(
            "UPDATE limit_requests SET status = 'expired'"
            " WHERE account_id = :a AND status = 'active'"
        ),
        {"a": account_id},
    )
