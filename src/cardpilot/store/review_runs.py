"""Review runs in the store (``review_runs``): started, counted chunk by chunk, finished."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import DateTime, Engine, bindparam, text

# Added to in each chunk's own transaction, so the counts hold exactly the committed chunks.
RUN_COUNTS_UPDATE = (
    "UPDATE review_runs SET decided = decided + :decided, skipped = skipped + :skipped,"
    " increases = increases + :inc, keeps = keeps + :keep, decreases = decreases + :dec,"
    " watched = watched + :watched WHERE id = :run"
)


def run_counts(
    run_id: int, *, by_action: Mapping[str, int], skipped: int, watched: int
) -> dict[str, Any]:
    """The parameters of ``RUN_COUNTS_UPDATE`` for one chunk."""
    return {
        "run": run_id,
        "decided": sum(by_action.values()),
        "skipped": skipped,
        "inc": by_action.get("increase", 0),
        "keep": by_action.get("keep", 0),
        "dec": by_action.get("decrease", 0),
        "watched": watched,
    }


def start_review_run(
    db: Engine,
    *,
    cycle_id: str,
    as_of: dt.date,
    policy_version: str,
    engine: str,
    model_version: str | None,
    interrupt_running: bool = True,
) -> int:
    """A new run of the cycle, marked running; returns its id.

    A run of this cycle still marked running was killed (or is running now: two reviews of one
    store at once are not supported; SQLite serialises them anyway): it becomes interrupted.
    ``interrupt_running=False``: the one-account runs of the HTTP API, which run beside a
    review and leave its run alone.
    """
    now = dt.datetime.now(dt.UTC)
    with db.begin() as conn:
        if interrupt_running:
            conn.execute(
                text(
                    "UPDATE review_runs SET status = 'interrupted'"
                    " WHERE cycle_id = :cycle AND status = 'running'"
                ),
                {"cycle": cycle_id},
            )
        run_id = conn.execute(
            text(
                "INSERT INTO review_runs (cycle_id, as_of, policy_version, model_version, engine,"
                " status, started_at, skipped, decided, increases, keeps, decreases, watched)"
                " VALUES (:cycle, :as_of, :policy, :model, :engine, 'running', :now,"
                " 0, 0, 0, 0, 0, 0) RETURNING id"
            ).bindparams(bindparam("now", type_=DateTime(timezone=True))),
            {
                "cycle": cycle_id,
                "as_of": as_of,
                "policy": policy_version,
                "model": model_version,
                "engine": engine,
                "now": now,
            },
        ).scalar_one()
    return int(run_id)


def finish_review_run(db: Engine, run_id: int, status: str, note: str | None = None) -> None:
    """Mark the run ``finished`` or ``failed`` (``note``: why)."""
    with db.begin() as conn:
        conn.execute(
            text(
                "UPDATE review_runs SET status = :status, finished_at = :now, note = :note"
                " WHERE id = :run"
            ).bindparams(bindparam("now", type_=DateTime(timezone=True))),
            {"status": status, "now": dt.datetime.now(dt.UTC), "note": note, "run": run_id},
        )


RUN_COLUMNS = (
    "id",
    "cycle_id",
    "as_of",
    "policy_version",
    "model_version",
    "engine",
    "status",
    "started_at",
    "finished_at",
    "decided",
    "skipped",
    "increases",
    "keeps",
    "decreases",
    "watched",
    "note",
)


def _run(row: Any) -> dict[str, Any]:
    out = dict(zip(RUN_COLUMNS, row, strict=True))
    for key in ("as_of", "started_at", "finished_at"):
        value = out[key]
        out[key] = (
            None
            if value is None
            else str(value.isoformat() if hasattr(value, "isoformat") else value)
        )
    return out


def list_review_runs(
    db: Engine, *, before: int | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """Review runs, newest first; ``before``: only runs with a smaller id (the next page)."""
    where = "" if before is None else " WHERE id < :before"
    with db.connect() as conn:
        rows = conn.execute(
            text(
                f"SELECT {', '.join(RUN_COLUMNS)} FROM review_runs{where} ORDER BY id DESC LIMIT :n"
            ),
            {"before": before, "n": limit},
        )
        return [_run(r) for r in rows]


def review_run(db: Engine, run_id: int) -> dict[str, Any] | None:
    with db.connect() as conn:
        row = conn.execute(
            text(f"SELECT {', '.join(RUN_COLUMNS)} FROM review_runs WHERE id = :run"),
            {"run": run_id},
        ).first()
    return None if row is None else _run(row)
