"""The early warning's writes and the watch list (``warning_scores``, ``warning_interventions``).

Writes are insert-or-ignore on their unique keys, in the caller's transaction (with the
outbox rows of the same interventions): a re-run of the same day, or a run killed half-way
and started again, stores each score and each intervention once.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, TextClause, bindparam, text
from sqlalchemy.dialects import postgresql, sqlite

from cardpilot.store.payments import as_zoned
from cardpilot.store.value_lists import bound_list, listed_values
from cardpilot.store.warning_models import WarningIntervention, WarningScore

_BATCH = 5_000
# The columns an intervention is stored with (the table's, less its id and creation time).
INTERVENTION_COLUMNS: tuple[str, ...] = tuple(
    c.name for c in WarningIntervention.__table__.columns if c.name not in ("id", "created_at")
)


def _insert_ignoring(conn: Connection, table: Any, rows: Sequence[dict[str, Any]]) -> list[Any]:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    out: list[Any] = []
    for start in range(0, len(rows), _BATCH):
        statement = dialect.insert(table).on_conflict_do_nothing()
        part = list(rows[start : start + _BATCH])
        if table is WarningIntervention.__table__:
            out += conn.execute(statement.returning(table.c.decision_ref), part).scalars().all()
        else:
            conn.execute(statement, part)
    return out


def insert_scores(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Store scores (``warning_scores`` columns; ``reason_codes`` a list); an (account, as-of
    date) already stored is left as it is."""
    prepared = [{**r, "reason_codes": json.dumps(list(r["reason_codes"] or []))} for r in rows]
    if prepared:
        _insert_ignoring(conn, WarningScore.__table__, prepared)


def insert_interventions(conn: Connection, rows: Sequence[dict[str, Any]]) -> set[str]:
    """Store interventions (``warning_interventions`` columns; ``reasons`` and ``advice``
    JSON-ready); returns the ``decision_ref`` of those this call added."""
    prepared = [
        {
            **r,
            "reasons": json.dumps(r["reasons"], ensure_ascii=False),
            "advice": None if r["advice"] is None else json.dumps(r["advice"]),
        }
        for r in rows
    ]
    if not prepared:
        return set()
    return set(_insert_ignoring(conn, WarningIntervention.__table__, prepared))


def latest_run_date(db: Engine, on_or_before: dt.date | None = None) -> dt.date | None:
    """The as-of date of the latest early-warning run (on or before a day), or None."""
    sql = "SELECT MAX(as_of) FROM warning_scores"
    params: dict[str, Any] = {}
    if on_or_before is not None:
        sql += " WHERE as_of <= :day"
        params["day"] = on_or_before
    with db.connect() as conn:
        value = conn.execute(text(sql), params).scalar()
    return None if value is None else dt.date.fromisoformat(str(value)[:10])


_TOP = text(
    "SELECT account_id, customer_id, score, score_change, reason_codes, model_version,"
    " policy_version FROM warning_scores WHERE as_of = :day"
    " ORDER BY score DESC, account_id LIMIT :n OFFSET :skip"
)
_OF_ACCOUNTS = text(
    "SELECT account_id, rule, intervention, kind, reasons, advice, hold_until, cycle_date"
    " FROM warning_interventions WHERE as_of = :day AND account_id IN :ids"
    " ORDER BY account_id, priority, rule"
).bindparams(bindparam("ids", expanding=True))


def watch_list(db: Engine, day: dt.date, limit: int, after: int = 0) -> list[dict[str, Any]]:
    """The ``limit`` highest scores of the run of ``day`` ranked below ``after``, riskiest
    first, each with the interventions decided for it that day."""
    with db.connect() as conn:
        params = {"day": day, "n": limit, "skip": after}
        top = conn.execute(_TOP, params).mappings().all()
        ids = [r["account_id"] for r in top]
        actions: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
        for start in range(0, len(ids), 500):
            params = {"day": day, "ids": ids[start : start + 500]}
            for row in conn.execute(_OF_ACCOUNTS, params).mappings():
                actions[row["account_id"]].append(
                    {
                        "rule": row["rule"],
                        "intervention": row["intervention"],
                        "kind": row["kind"],
                        "reasons": json.loads(row["reasons"]),
                        "advice": None if row["advice"] is None else json.loads(row["advice"]),
                        "hold_until": None
                        if row["hold_until"] is None
                        else str(row["hold_until"])[:10],
                        "cycle_date": str(row["cycle_date"])[:10],
                    }
                )
    return [
        {
            "rank": rank,
            "account_id": r["account_id"],
            "customer_id": r["customer_id"],
            "score": r["score"],
            "score_change": r["score_change"],
            "reason_codes": json.loads(r["reason_codes"]),
            "model_version": r["model_version"],
            "policy_version": r["policy_version"],
            "interventions": actions[r["account_id"]],
        }
        for rank, r in enumerate(top, start=after + 1)
    ]


def intervention_counts(db: Engine, day: dt.date) -> dict[str, int]:
    """Interventions stored on ``day``, per rule."""
    with db.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT rule, COUNT(*) FROM warning_interventions WHERE as_of = :day"
                " GROUP BY rule ORDER BY rule"
            ),
            {"day": day},
        ).all()
    return {str(r[0]): int(r[1]) for r in rows}


def history_of(
    conn: Connection, account_ids: Sequence[str], as_of: dt.date, days: int = 366
) -> list[dict[str, Any]]:
    """The interventions of some accounts in the ``days`` up to ``as_of``, as the trigger
    history reads them (``account_id, rule, cycle_date, fired_on, sends``), in ``conn``'s
    transaction."""
    since = as_of - dt.timedelta(days=days)
    ids = sorted(set(account_ids))
    if not ids:
        return []
    statement = text(
        "SELECT account_id, rule, cycle_date, as_of, kind FROM warning_interventions"
        f" WHERE account_id IN ({listed_values(conn, 'ids')})"
        " AND as_of <= :as_of AND as_of >= :since"
    )
    params = {"ids": bound_list(conn, ids), "as_of": as_of, "since": since}
    return [
        {
            "account_id": account,
            "rule": rule,
            "cycle_date": dt.date.fromisoformat(str(cycle)[:10]),
            "fired_on": dt.date.fromisoformat(str(fired)[:10]),
            "sends": kind != "hold_increases",
        }
        for account, rule, cycle, fired, kind in conn.execute(statement, params)
    ]


def references_on(db: Engine, day: dt.date) -> list[str]:
    """The references of the interventions stored on ``day``, sorted (a run's audit digest)."""
    with db.connect() as conn:
        rows = conn.execute(
            text("SELECT decision_ref FROM warning_interventions WHERE as_of = :day"),
            {"day": day},
        ).scalars()
        return sorted(str(r) for r in rows)


def _online_statement(conn: Connection, known_only: bool) -> TextClause:
    ids = listed_values(conn, "ids")
    if known_only:
        also = listed_values(conn, "also")
        chosen = (
            f"SELECT j.value FROM ({ids}) j WHERE EXISTS (SELECT 1 FROM warning_scores s"
            " WHERE s.account_id = j.value AND s.as_of <= :as_of)"
            f" OR EXISTS (SELECT 1 FROM limit_history l WHERE l.account_id = j.value{_RAISED})"
            f" UNION SELECT k.value FROM ({also}) k"
        )
    else:
        chosen = f"SELECT j.value FROM ({ids}) j"
    return text(
        f"WITH chosen(account_id) AS ({chosen})"
        " SELECT a.account_id, a.customer_id, a.currency, a.status, w.account_id, w.score,"
        " w.score_change, w.reason_codes, w.model_version,"
        " (SELECT MAX(l.effective_at) FROM limit_history l"
        f" WHERE l.account_id = a.account_id{_RAISED})"
        " FROM chosen c JOIN accounts a ON a.account_id = c.account_id"
        " LEFT JOIN warning_scores w ON w.account_id = a.account_id AND w.as_of ="
        " (SELECT MAX(s.as_of) FROM warning_scores s"
        " WHERE s.account_id = a.account_id AND s.as_of <= :as_of)"
    )


_RAISED = " AND l.old_limit_minor IS NOT NULL AND l.new_limit_minor > l.old_limit_minor"


def online_inputs(
    conn: Connection,
    account_ids: Sequence[str],
    as_of: dt.date,
    zone: ZoneInfo,
    *,
    known_only: bool = False,
    also: Sequence[str] = (),
) -> dict[str, dict[str, Any]]:
    """What the event consumer's trigger states take from the store, per account: its
    customer, currency and status, its latest early-warning score on or before ``as_of``
    (with its change, reasons and model version) and the day of its latest limit increase in
    the issuer's zone (``increased_on``). In ``conn``'s transaction, one statement (on
    PostgreSQL, without JIT compilation from here to the transaction's end).

    ``known_only``: only the accounts with a score or a limit increase, and those of
    ``also`` (the others' scores and increases are none)."""
    ids = sorted(set(account_ids))
    params: dict[str, Any] = {"ids": bound_list(conn, ids), "as_of": as_of}
    if known_only:
        params["also"] = bound_list(conn, sorted(set(also)))
    out: dict[str, dict[str, Any]] = {}
    if conn.dialect.name == "postgresql":
        # The planner prices the chosen accounts (hashed sub-plans over a bound list) far above
        # ``jit_above_cost``, and compiling the plan cost more than running it (about 19 ms a
        # 10,000-account batch, against 8). For the rest of the caller's transaction, the
        # consumer's batch: statements over one batch's rows, none worth compiling.
        conn.exec_driver_sql("SET LOCAL jit = off")
    rows = conn.execute(_online_statement(conn, known_only), params)
    for account, customer, currency, status, scored, score, change, reasons, model, at in rows:
        facts: dict[str, Any] = {
            "account_id": account,
            "customer_id": customer,
            "currency": currency,
            "status": status,
        }
        if scored is not None:
            facts.update(
                score=score,
                score_change=change,
                reason_codes=json.loads(reasons),
                model_version=model,
            )
        if at is not None:
            facts["increased_on"] = as_zoned(at, zone).date()
        out[account] = facts
    return out


_SINCE = text(
    "SELECT as_of, account_id, rule, intervention, reasons FROM warning_interventions"
    " WHERE as_of >= :since ORDER BY as_of, account_id, priority, rule LIMIT :n"
)


def interventions_since(db: Engine, since: dt.date, limit: int) -> list[dict[str, Any]]:
    """The first ``limit`` interventions stored for ``since`` or later (by day, account,
    priority), each with its rule's reason (en)."""
    with db.connect() as conn:
        rows = conn.execute(_SINCE, {"since": since, "n": limit}).mappings().all()
    out = []
    for r in rows:
        reasons = json.loads(r["reasons"])
        out.append(
            {
                "as_of": str(r["as_of"])[:10],
                "account_id": r["account_id"],
                "rule": r["rule"],
                "intervention": r["intervention"],
                "reason": reasons[0]["en"] if reasons else "",
            }
        )
    return out
