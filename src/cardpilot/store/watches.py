"""Watches after large increases in the store (``limit_watch``, ``watch_flags``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import polars as pl
from sqlalchemy import Engine, bindparam, text

from cardpilot.store.account_chunks import STATEMENT_COLUMNS
from cardpilot.store.frame_reads import query_frame

_ID_BATCH = 500


@dataclass(frozen=True)
class WatchStart:
    """Which of a chunk's increases start a watch, and for how long: those whose new limit is
    at least ``min_new_to_old_bp`` basis points of the old one."""

    started: dt.date
    ends: dt.date
    min_new_to_old_bp: int


def watch_start_statement(
    start: WatchStart, *, run: int, lo: str, hi: str
) -> tuple[str, dict[str, Any]]:
    """The statement (``:name`` parameters) and parameters that start the watches of the
    increases run ``run`` decided in ``[lo, hi]``; ``decision_id`` is unique, so never twice."""
    sql = (
        "INSERT INTO limit_watch (account_id, decision_id, started_on, ends_on,"
        " old_limit_minor, new_limit_minor, policy_version)"
        " SELECT account_id, id, :started, :ends, old_limit_minor, new_limit_minor,"
        " policy_version FROM limit_decisions"
        " WHERE run_id = :run AND account_id BETWEEN :lo AND :hi AND action = 'increase'"
        " AND new_limit_minor * 10000 >= old_limit_minor * :factor"
        " ON CONFLICT (decision_id) DO NOTHING"
    )
    params = {
        "started": start.started,
        "ends": start.ends,
        "run": run,
        "lo": lo,
        "hi": hi,
        "factor": start.min_new_to_old_bp,
    }
    return sql, params


_WATCH_COLUMNS: dict[str, pl.DataType] = {
    "watch_id": pl.Int64(),
    "account_id": pl.String(),
    "started_on": pl.Date(),
    "ends_on": pl.Date(),
}


def watches_started_before(db: Engine, as_of: dt.date) -> pl.DataFrame:
    """``watch_id, account_id, started_on, ends_on`` of the watches started before ``as_of``."""
    with db.connect() as conn:
        return query_frame(
            conn,
            "SELECT id, account_id, started_on, ends_on FROM limit_watch"
            " WHERE started_on < :as_of ORDER BY id",
            {"as_of": as_of},
            _WATCH_COLUMNS,
        )


def watched_statements(
    db: Engine, account_ids: list[str], since: dt.date, as_of: dt.date
) -> pl.DataFrame:
    """The statements (``STATEMENT_COLUMNS``) of ``account_ids`` with cycles in
    ``[since, as_of]``."""
    frames = []
    sql = text(
        f"SELECT {', '.join(STATEMENT_COLUMNS)} FROM statements"
        " WHERE account_id IN :ids AND cycle_date >= :since AND cycle_date <= :as_of"
    ).bindparams(bindparam("ids", expanding=True))
    with db.connect() as conn:
        for start in range(0, len(account_ids), _ID_BATCH):
            ids = account_ids[start : start + _ID_BATCH]
            params = {"ids": ids, "since": since, "as_of": as_of}
            frames.append(query_frame(conn, sql, params, STATEMENT_COLUMNS))
    if not frames:
        return pl.DataFrame(schema=STATEMENT_COLUMNS)
    return pl.concat(frames)


def read_watches(db: Engine) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Every watch with its decision's grade and segment, and every flag, in id order."""
    with db.connect() as conn:
        watches = query_frame(
            conn,
            "SELECT w.id, w.account_id, w.started_on, w.ends_on, w.old_limit_minor,"
            " w.new_limit_minor, d.grade, d.segment FROM limit_watch w"
            " JOIN limit_decisions d ON d.id = w.decision_id ORDER BY w.id",
            {},
            {
                **_WATCH_COLUMNS,
                "old_limit_minor": pl.Int64(),
                "new_limit_minor": pl.Int64(),
                "grade": pl.String(),
                "segment": pl.String(),
            },
        )
        flags = query_frame(
            conn,
            "SELECT watch_id, cycle_date, rule, reason_code, detail FROM watch_flags"
            " ORDER BY watch_id, cycle_date, rule",
            {},
            {
                "watch_id": pl.Int64(),
                "cycle_date": pl.Date(),
                "rule": pl.String(),
                "reason_code": pl.String(),
                "detail": pl.String(),
            },
        )
    return watches, flags
