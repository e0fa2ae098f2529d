"""What followed the watch flags, in the store (``watch_actions``): written with the flags in one
transaction, with the notices of the ``notice`` actions in the outbox (the transactional
outbox) and the cases of the ``analyst_case`` actions opened (``cardpilot.store.cases``, on the
increase the watch followed, with their audit records), and read by the review (holds on
increases, early reviews) in its chunk read."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import polars as pl
import pyarrow as pa
from sqlalchemy import Connection, Engine, bindparam, text

from cardpilot.audit.chain import AuditEntry
from cardpilot.store.audit import append_audit, audited_transaction
from cardpilot.store.cases import insert_case
from cardpilot.store.frame_reads import query_frame
from cardpilot.store.outbox_rows import insert_outbox

_ID_BATCH = 500

# What a hold or an early review is called in the store.
HOLD_INCREASES = "hold_increases"
EARLY_REVIEW = "early_review"
NOTICE = "notice"
ANALYST_CASE = "analyst_case"
# Who opens a watch's case (``review_cases.requested_by`` and the audit actor).
WATCH_REQUESTER = "watch"
WATCH_ACTOR = "cardpilot:watch"

WATCH_ACTION_COLUMNS: dict[str, pl.DataType] = {
    "watch_id": pl.Int64(),
    "account_id": pl.String(),
    "flag_cycle_date": pl.Date(),
    "rule": pl.String(),
    "reason_code": pl.String(),
    "action": pl.String(),
    "status": pl.String(),
    "hold_until": pl.Date(),
    "policy_version": pl.String(),
}
_INSERT_FLAGS = text(
    "INSERT INTO watch_flags (watch_id, account_id, cycle_date, rule, reason_code, detail)"
    " VALUES (:watch_id, :account_id, :cycle_date, :rule, :reason_code, :detail)"
    " ON CONFLICT (watch_id, cycle_date, rule) DO NOTHING"
)
_INSERT_ACTIONS = text(
    f"INSERT INTO watch_actions ({', '.join(WATCH_ACTION_COLUMNS)})"
    f" VALUES ({', '.join(':' + c for c in WATCH_ACTION_COLUMNS)})"
    " ON CONFLICT (watch_id, flag_cycle_date, rule) DO NOTHING"
)
# The case actions of some watches with no case yet, with the increase their watch followed.
_CASES_TO_OPEN = text(
    "SELECT w.id, w.account_id, lw.decision_id, w.rule, w.reason_code, w.flag_cycle_date"
    " FROM watch_actions w JOIN limit_watch lw ON lw.id = w.watch_id"
    f" WHERE w.action = '{ANALYST_CASE}' AND w.case_id IS NULL AND w.watch_id IN :ids"
    " ORDER BY w.id"
).bindparams(bindparam("ids", expanding=True))
_CASE_OPENED = text("UPDATE watch_actions SET case_id = :case, status = 'opened' WHERE id = :id")
# The notice actions of some watches, as ``cardpilot.notify.decision_notices`` reads a decision
# (the limit unchanged; the reason the flag's).
_NOTICE_ACTIONS = text(
    "SELECT w.id, w.account_id, a.customer_id, a.currency, w.flag_cycle_date,"
    " a.credit_limit_minor, w.reason_code, w.policy_version FROM watch_actions w"
    " JOIN accounts a ON a.account_id = w.account_id"
    f" WHERE w.action = '{NOTICE}' AND w.watch_id IN :ids ORDER BY w.id"
).bindparams(bindparam("ids", expanding=True))
NOTICE_ACTION_COLUMNS: dict[str, pl.DataType] = {
    "id": pl.Int64(),
    "account_id": pl.String(),
    "customer_id": pl.String(),
    "currency": pl.String(),
    "as_of": pl.Date(),
    "credit_limit_minor": pl.Int64(),
    "reason_code": pl.String(),
    "policy_version": pl.String(),
}
# The outbox rows of a chunk's notice actions (read back inside its transaction), or None.
NoticeRenderer = Callable[[pl.DataFrame], pa.Table | None]

# For the review's chunk read (``:lo``, ``:hi``: the chunk's account range): the latest hold on
# increases of each account of the range that has one, raised by a watch flag or by an
# early-warning intervention (``warning_interventions.hold_until``).
HOLDS_IN_RANGE = (
    "SELECT account_id, MAX(hold_until) FROM (SELECT account_id, hold_until FROM watch_actions"
    f" WHERE account_id BETWEEN :lo AND :hi AND action = '{HOLD_INCREASES}'"
    " UNION ALL SELECT account_id, hold_until FROM warning_interventions"
    " WHERE account_id BETWEEN :lo AND :hi AND hold_until IS NOT NULL) holds"
    " GROUP BY account_id"
)
# A correlated condition for the chunk read: the account ``l.account_id`` has an early review
# raised on a statement after its last decision (``l.last_on``), up to ``:as_of``.
EARLY_REVIEW_PENDING = (
    "EXISTS (SELECT 1 FROM watch_actions w WHERE w.account_id = l.account_id"
    f" AND w.action = '{EARLY_REVIEW}' AND w.flag_cycle_date > l.last_on"
    " AND w.flag_cycle_date <= :as_of)"
)


def store_flags_and_actions(
    db: Engine,
    flags: pl.DataFrame,
    actions: pl.DataFrame,
    notices: NoticeRenderer | None = None,
) -> int:
    """Store ``flags`` (watch_id, account_id, cycle_date, rule, reason_code, detail) and their
    ``actions`` (``WATCH_ACTION_COLUMNS``) in one transaction, with the outbox rows of the notice
    actions (``notices``: rendered from them, read back as ``NOTICE_ACTION_COLUMNS``; None: no
    notices). A flag or action already there is kept, a notice already queued is not queued
    again. Returns the flags added."""
    if flags.height == 0:
        return 0
    with audited_transaction(db) as conn:
        added = int(conn.execute(_INSERT_FLAGS, flags.to_dicts()).rowcount or 0)
        if actions.height:
            conn.execute(_INSERT_ACTIONS, actions.select(*WATCH_ACTION_COLUMNS).to_dicts())
        cased = actions.filter(pl.col("action") == ANALYST_CASE)
        if cased.height:
            _open_cases(conn, cased["watch_id"].unique().sort().to_list())
        noticed = actions.filter(pl.col("action") == NOTICE)
        if notices is not None and noticed.height:
            rows = _notice_actions(conn, noticed["watch_id"].unique().sort().to_list())
            insert_outbox(conn, notices(rows) if rows.height else None)
    return added


def _open_cases(conn: Connection, watch_ids: list[int]) -> None:
    """A case for an analyst per case action of ``watch_ids`` without one, on the increase its
    watch followed; each with its audit record, in the caller's transaction."""
    now = dt.datetime.now(dt.UTC)
    for start in range(0, len(watch_ids), _ID_BATCH):
        ids = watch_ids[start : start + _ID_BATCH]
        for action_id, account, decision, rule, code, cycle in conn.execute(
            _CASES_TO_OPEN, {"ids": ids}
        ).all():
            reason = f"watch flag {rule} ({code}) on the statement of {str(cycle)[:10]}"
            case = insert_case(
                conn,
                account_id=account,
                decision_id=int(decision),
                requested_by=WATCH_REQUESTER,
                reason=reason,
                actor=WATCH_ACTOR,
                at=now,
            )
            entry = AuditEntry(
                WATCH_ACTOR, "case.open", f"case:{case.id}", case.as_json(), after=case.as_json()
            )
            append_audit(conn, entry, now)
            conn.execute(_CASE_OPENED, {"case": case.id, "id": action_id})


def _notice_actions(conn: Connection, watch_ids: list[int]) -> pl.DataFrame:
    frames = [
        query_frame(
            conn, _NOTICE_ACTIONS, {"ids": watch_ids[i : i + _ID_BATCH]}, NOTICE_ACTION_COLUMNS
        )
        for i in range(0, len(watch_ids), _ID_BATCH)
    ]
    return pl.concat(frames)


def read_watch_actions(db: Engine, account_id: str | None = None) -> pl.DataFrame:
    """The stored actions (``WATCH_ACTION_COLUMNS`` and ``id``), of one account or all, in id
    order."""
    where = "WHERE account_id = :account" if account_id is not None else ""
    with db.connect() as conn:
        return query_frame(
            conn,
            f"SELECT id, {', '.join(WATCH_ACTION_COLUMNS)} FROM watch_actions {where} ORDER BY id",
            {"account": account_id} if account_id is not None else {},
            {"id": pl.Int64(), **WATCH_ACTION_COLUMNS},
        )


def watch_action_counts(db: Engine) -> dict[str, int]:
    """The stored actions by action, most first."""
    with db.connect() as conn:
        rows = conn.execute(
            text("SELECT action, COUNT(*) AS n FROM watch_actions GROUP BY action ORDER BY n DESC")
        ).all()
    return {str(action): int(n) for action, n in rows}
