"""What the review report reads from the store: one cycle's decisions, the outcome labels and
the watch list, as typed frames and rows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import polars as pl
from sqlalchemy import Connection, Date, Engine, bindparam, text

from cardpilot.policy.limit_inputs import DECISION_SCHEMA as DECIDED
from cardpilot.store.review_models import TEXT_SETS_JOIN, cycle_decisions, decision_texts

# The report's columns of a stored decision, typed as the decision function makes them.
DECISION_SCHEMA: dict[str, Any] = {
    name: DECIDED[name]
    for name in (
        "account_id",
        "grade",
        "segment",
        "action",
        "score",
        "pd",
        "old_limit_minor",
        "new_limit_minor",
        "increase_pct_bp",
        "reason_codes",
        "reason_texts_zh",
        "reason_texts_en",
    )
}

_TEXTS = ("reason_texts_zh", "reason_texts_en")


@dataclass(frozen=True)
class CycleHeader:
    """The date and versions a cycle's decisions carry (those of its first account)."""

    as_of: dt.date
    policy_version: str
    model_version: str | None


@dataclass(frozen=True)
class WatchedAccount:
    account_id: str
    grade: str | None
    segment: str | None
    started_on: dt.date
    ends_on: dt.date
    old_limit_minor: int
    new_limit_minor: int
    flags: int
    reason_codes: list[str]  # distinct, in the order the flags were raised


def _frame(
    conn: Connection, sql: str, params: dict[str, Any], schema: dict[str, Any]
) -> pl.DataFrame:
    rows = conn.execute(text(sql), params).all()
    return pl.DataFrame([tuple(r) for r in rows], schema=schema, orient="row")


def cycle_decisions_frame(db: Engine, cycle_id: str) -> pl.DataFrame:
    """The decisions of ``cycle_id`` by account (``DECISION_SCHEMA``; reason lists decoded)."""
    raw = {**DECISION_SCHEMA, **dict.fromkeys(("reason_codes", *_TEXTS), pl.String())}
    columns = ", ".join(f"d.{c}" for c in list(DECISION_SCHEMA)[:-2])
    with db.connect() as conn:
        frame = _frame(
            conn,
            f"SELECT {columns}, {decision_texts('zh')}, {decision_texts('en')}"
            f" FROM limit_decisions d {TEXT_SETS_JOIN}"
            f" WHERE {cycle_decisions('d')} ORDER BY d.account_id, d.id",
            {"cycle": cycle_id},
            raw,
        )
    lists = pl.List(pl.String())
    return frame.with_columns(pl.col(c).str.json_decode(lists) for c in ("reason_codes", *_TEXTS))


def cycle_header(db: Engine, cycle_id: str) -> CycleHeader | None:
    """The as-of date, policy and model versions of the cycle's first decision by account."""
    with db.connect() as conn:
        row = conn.execute(
            text(
                "SELECT d.as_of AS day, d.policy_version, d.model_version FROM limit_decisions d"
                f" WHERE {cycle_decisions('d')} ORDER BY d.account_id, d.id LIMIT 1"
            ).columns(day=Date),
            {"cycle": cycle_id},
        ).first()
    if row is None:
        return None
    return CycleHeader(as_of=row[0], policy_version=str(row[1]), model_version=row[2])


def outcome_label_names(db: Engine) -> list[str]:
    """The names of the outcome labels in the store (e.g. ``default_next_month``), sorted."""
    with db.connect() as conn:
        rows = conn.execute(text("SELECT DISTINCT label FROM performance_labels ORDER BY label"))
        return [str(name) for (name,) in rows]


def outcome_labels(db: Engine, label: str) -> pl.DataFrame:
    """``account_id`` and ``label`` (1 for the outcome, 0 otherwise) of one outcome label."""
    with db.connect() as conn:
        return _frame(
            conn,
            "SELECT account_id, CAST(value AS INTEGER) FROM performance_labels WHERE label = :l",
            {"l": label},
            {"account_id": pl.String(), "label": pl.Int64()},
        )


def watch_counts(db: Engine) -> tuple[int, int]:
    """How many accounts are watched after a large increase, and how many of them have flags."""
    with db.connect() as conn:
        row = conn.execute(
            text(
                "SELECT COUNT(*), COALESCE(SUM(CASE WHEN EXISTS (SELECT 1 FROM watch_flags f"
                " WHERE f.watch_id = w.id) THEN 1 ELSE 0 END), 0) FROM limit_watch w"
            )
        ).one()
    return int(row[0]), int(row[1])


def most_flagged_watches(db: Engine, limit: int) -> list[WatchedAccount]:
    """The ``limit`` watches with the most flags (then the oldest), with their decision's grade
    and segment and the distinct reason codes of their flags."""
    with db.connect() as conn:
        watches = conn.execute(
            text(
                "SELECT w.id, w.account_id, d.grade, d.segment, w.started_on AS started_on,"
                " w.ends_on AS ends_on, w.old_limit_minor, w.new_limit_minor,"
                " (SELECT COUNT(*) FROM watch_flags f WHERE f.watch_id = w.id) AS flags"
                " FROM limit_watch w JOIN limit_decisions d ON d.id = w.decision_id"
                " ORDER BY flags DESC, w.id LIMIT :n"
            ).columns(started_on=Date, ends_on=Date),
            {"n": limit},
        ).all()
        codes: dict[int, list[str]] = {}
        ids = [int(w[0]) for w in watches]
        flags = text(
            "SELECT watch_id, reason_code FROM watch_flags WHERE watch_id IN :ids"
            " ORDER BY watch_id, cycle_date, rule"
        ).bindparams(bindparam("ids", expanding=True))
        for watch_id, code in conn.execute(flags, {"ids": ids}) if ids else []:
            seen = codes.setdefault(int(watch_id), [])
            if str(code) not in seen:
                seen.append(str(code))
    return [
        WatchedAccount(
            account_id=str(w[1]),
            grade=w[2],
            segment=w[3],
            started_on=w[4],
            ends_on=w[5],
            old_limit_minor=int(w[6]),
            new_limit_minor=int(w[7]),
            flags=int(w[8]),
            reason_codes=codes.get(int(w[0]), []),
        )
        for w in watches
    ]
