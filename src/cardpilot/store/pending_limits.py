"""Decreases waiting for their notice period (``pending_limit_changes``), and their application.

A review does not lower a limit on its decision date: the customer is told first, and the cut
takes effect ``decrease_notice_days`` later (the notify policy's ``limit_notices``). The review's
chunk write stores each decrease it inserted as a pending change (``PENDING_IN_CHUNK``) after
marking superseded the account's earlier pending changes (``SUPERSEDED_IN_CHUNK``): the newest
decision on an account is the one that counts.

:func:`apply_due` applies, in the caller's transaction, every pending change whose effective
date is on or before the job's as-of date: the status first (``applied``, with a batch id, so a
concurrent or repeated run finds nothing left to apply), then the limit history row (source
``review``, effective on the effective date), the account's limit and a ``limit_change`` ledger
event. A change whose account no longer has the limit it was decided on (an overdue treatment
or an analyst moved it meanwhile) is marked superseded instead: it is never applied over a
later change. Applying twice changes nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Date, DateTime, bindparam, text

from cardpilot.ledger.postings import Kind, Posting, Source
from cardpilot.store.ledger import insert_postings

TABLE = "pending_limit_changes"
PENDING, APPLIED, SUPERSEDED = "pending", "applied", "superseded"
MOVED_NOTE = "the account's limit changed after the decision"

# ``:run``, ``:lo``, ``:hi``: the review run and the chunk's account range (as the other
# statements of the chunk's write). First the earlier pending changes of the accounts the run
# decided again in the chunk are superseded by the run's decision; then the run's decreases
# wait. A limit kept only because no review was due reconsiders nothing: it supersedes nothing.
_RECONSIDERED = (
    "SELECT {column} FROM limit_decisions d WHERE d.run_id = :run{account}"
    " AND (d.due_for_review OR d.action <> 'keep')"
)
SUPERSEDED_IN_CHUNK = (
    f"UPDATE {TABLE} SET status = '{SUPERSEDED}', superseded_by = ("
    + _RECONSIDERED.format(column="MAX(d.id)", account=f" AND d.account_id = {TABLE}.account_id")
    + f") WHERE status = '{PENDING}' AND account_id BETWEEN :lo AND :hi AND account_id IN ("
    + _RECONSIDERED.format(column="d.account_id", account=" AND d.account_id BETWEEN :lo AND :hi")
    + ")"
)
PENDING_IN_CHUNK = (
    f"INSERT INTO {TABLE} (decision_id, account_id, old_limit_minor, new_limit_minor,"
    " decided_on, effective_on, status, policy_version, model_version)"
    " SELECT id, account_id, old_limit_minor, new_limit_minor, as_of, :effective_on,"
    f" '{PENDING}', policy_version, model_version FROM limit_decisions"
    " WHERE run_id = :run AND account_id BETWEEN :lo AND :hi AND action = 'decrease'"
    " ON CONFLICT (decision_id) DO NOTHING"
)

_DUE = f"status = '{PENDING}' AND effective_on <= :as_of"
_STALE = (
    f"UPDATE {TABLE} SET status = '{SUPERSEDED}', note = :note WHERE {_DUE}{{account}}"
    " AND old_limit_minor <> (SELECT a.credit_limit_minor FROM accounts a"
    f" WHERE a.account_id = {TABLE}.account_id)"
)
_MARK = (
    f"UPDATE {TABLE} SET status = '{APPLIED}', applied_on = :as_of, applied_at = :now,"
    f" apply_batch = :batch WHERE {_DUE}{{account}}"
)
_BATCH = text(
    "SELECT decision_id, account_id, old_limit_minor, new_limit_minor, effective_on,"
    f" policy_version, model_version FROM {TABLE} WHERE apply_batch = :batch ORDER BY id"
).columns(effective_on=Date)
_HISTORY = text(
    "INSERT INTO limit_history (account_id, effective_at, old_limit_minor, new_limit_minor,"
    " source, decision_id, policy_version, model_version, note)"
    " VALUES (:account, :at, :old, :new, 'review', :decision, :policy, :model, 'decrease')"
).bindparams(bindparam("at", type_=DateTime(timezone=True)))
_ACCOUNT = text(
    "UPDATE accounts SET credit_limit_minor = :new WHERE account_id = :account"
    " AND credit_limit_minor = :old"
)
_BY_ACCOUNT = text(
    f"UPDATE {TABLE} SET status = '{SUPERSEDED}', superseded_by = :decision, note = :note"
    f" WHERE status = '{PENDING}' AND account_id = :account"
)
PENDING_COLUMNS = (
    "decision_id",
    "old_limit_minor",
    "new_limit_minor",
    "decided_on",
    "effective_on",
    "status",
    "applied_on",
    "superseded_by",
    "note",
)
_OF_ACCOUNT = (
    text(
        f"SELECT {', '.join(PENDING_COLUMNS)} FROM {TABLE}"
        " WHERE account_id = :account AND decided_on <= :as_of ORDER BY decided_on, id"
    )
    .bindparams(bindparam("as_of", type_=Date))
    .columns(decided_on=Date, effective_on=Date, applied_on=Date)
)


@dataclass(frozen=True)
class AppliedChanges:
    """What one application of the due pending changes did."""

    as_of: dt.date
    batch: str
    applied: int = 0
    superseded: int = 0  # due, but the account's limit had moved since the decision

    @property
    def changed(self) -> bool:
        return bool(self.applied or self.superseded)

    def as_json(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "batch": self.batch,
            "applied": self.applied,
            "superseded": self.superseded,
        }


def _dated(sql: str, account_id: str | None) -> Any:
    account = " AND account_id = :account" if account_id is not None else ""
    statement = text(sql.format(account=account)).bindparams(bindparam("as_of", type_=Date))
    if ":now" in sql:
        statement = statement.bindparams(bindparam("now", type_=DateTime(timezone=True)))
    return statement


def apply_due(
    conn: Connection,
    as_of: dt.date,
    *,
    zone: str,
    now: dt.datetime | None = None,
    account_id: str | None = None,
) -> AppliedChanges:
    """Apply the pending changes effective on or before ``as_of`` (of one account, or all) in
    ``conn``'s transaction; ``zone``: the issuer's time zone (the ledger event's business day).
    """
    now = now or dt.datetime.now(dt.UTC)
    batch = uuid.uuid4().hex
    params: dict[str, Any] = {"as_of": as_of, "note": MOVED_NOTE}
    if account_id is not None:
        params["account"] = account_id
    superseded = conn.execute(_dated(_STALE, account_id), params).rowcount or 0
    marked = {**params, "now": now, "batch": batch}
    conn.execute(_dated(_MARK, account_id), marked)
    rows = [dict(r) for r in conn.execute(_BATCH, {"batch": batch}).mappings()]
    if rows:
        conn.execute(_HISTORY, [_history_row(r) for r in rows])
        conn.execute(_ACCOUNT, [_account_row(r) for r in rows])
        insert_postings(conn, [limit_change_event(r, zone) for r in rows])
    return AppliedChanges(as_of, batch, applied=len(rows), superseded=int(superseded))


def _effective_on(row: dict[str, Any]) -> dt.date:
    value = row["effective_on"]
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def _history_row(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "account": row["account_id"],
        # As a review's own history rows: midnight UTC of the day the limit changed.
        "at": dt.datetime.combine(_effective_on(row), dt.time(), tzinfo=dt.UTC),
        "old": row["old_limit_minor"],
        "new": row["new_limit_minor"],
        "decision": str(row["decision_id"]),
        "policy": row["policy_version"],
        "model": row["model_version"],
    }


def _account_row(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "account": row["account_id"],
        "old": row["old_limit_minor"],
        "new": row["new_limit_minor"],
    }


def limit_change_event(row: dict[str, Any], zone: str) -> Posting:
    """The ledger's ``limit_change`` event of an applied change: no amount, what changed in
    ``detail``, at the start of its effective day in the issuer's time zone."""
    day = _effective_on(row)
    detail = {
        "decision_id": int(row["decision_id"]),
        "old_limit_minor": int(row["old_limit_minor"]),
        "new_limit_minor": int(row["new_limit_minor"]),
        "effective_on": day.isoformat(),
    }
    return Posting(
        account_id=str(row["account_id"]),
        kind=Kind.LIMIT_CHANGE,
        effective_at=dt.datetime.combine(day, dt.time(), tzinfo=ZoneInfo(zone)),
        source=Source.DECISION,
        idempotency_key=f"limit_change:{row['decision_id']}",
        reference=str(row["decision_id"]),
        detail=json.dumps(detail, sort_keys=True),
    )


def supersede_for_account(conn: Connection, account_id: str, decision_id: int, note: str) -> int:
    """Mark the account's pending changes superseded by the later decision ``decision_id``
    (an analyst's override); returns how many there were."""
    params = {"account": account_id, "decision": decision_id, "note": note}
    return int(conn.execute(_BY_ACCOUNT, params).rowcount or 0)


_OF_DECISION = text(
    f"SELECT {', '.join(PENDING_COLUMNS)} FROM {TABLE} WHERE decision_id = :decision"
).columns(decided_on=Date, effective_on=Date, applied_on=Date)


def pending_of_decision(conn: Connection, decision_id: int) -> dict[str, Any] | None:
    """The pending change a decrease made (None: the decision changed the limit at once, or
    was made before decreases waited for their notice period)."""
    row = conn.execute(_OF_DECISION, {"decision": decision_id}).mappings().first()
    return None if row is None else dict(row)


def pending_of_account(conn: Connection, account_id: str, as_of: dt.date) -> list[dict[str, Any]]:
    """The account's pending changes (any status) decided on or before ``as_of``."""
    params = {"account": account_id, "as_of": as_of}
    return [dict(r) for r in conn.execute(_OF_ACCOUNT, params).mappings()]
