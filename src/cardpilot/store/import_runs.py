"""The record of each import (``import_runs``): started, then finished, failed or interrupted.

A run's row is committed before its load starts, in a transaction of its own, so a run that
never finishes (its process killed, the machine stopped) still leaves its trace. The load itself
is one transaction (``cardpilot.store.arrow_loading``): such a run added nothing, and the next
import marks its row ``interrupted`` once no process of that run is alive on this machine.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from collections.abc import Mapping

from sqlalchemy import Engine, func, select, update

from cardpilot.store.db import unit_of_work
from cardpilot.store.models import ImportRun

# What a run row counts, by its column, from the import's own names.
ADDED_COLUMNS = {
    "customers": "customers_added",
    "accounts": "accounts_added",
    "statements": "statements_added",
    "transactions": "transactions_added",
    "labels": "labels_added",
}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def mark_interrupted_runs(engine: Engine) -> list[int]:
    """Mark ``interrupted`` every running run of this machine whose process is gone.

    Runs started on another machine are left as they are: their process cannot be seen from
    here. Returns the ids marked.
    """
    host = socket.gethostname()
    with unit_of_work(engine) as session:
        running = session.execute(
            select(ImportRun.id, ImportRun.pid).where(
                ImportRun.status == "running", ImportRun.host == host
            )
        ).all()
        gone = [run_id for run_id, pid in running if pid is None or not _alive(int(pid))]
        if gone:
            session.execute(
                update(ImportRun)
                .where(ImportRun.id.in_(gone))
                .values(status="interrupted", finished_at=dt.datetime.now(dt.UTC))
            )
    return gone


def start_run(engine: Engine, *, source: str, layout: str) -> int:
    """A new ``running`` run of this process; its id."""
    with unit_of_work(engine) as session:
        run = ImportRun(
            source=source,
            layout=layout,
            started_at=dt.datetime.now(dt.UTC),
            status="running",
            host=socket.gethostname(),
            pid=os.getpid(),
            customers_added=0,
            accounts_added=0,
            statements_added=0,
            transactions_added=0,
            labels_added=0,
            rejected=0,
        )
        session.add(run)
        session.flush()
        return int(run.id)


def finish_run(
    engine: Engine,
    run_id: int,
    *,
    added: Mapping[str, int],
    rejected: int,
    rejects_file: str | None,
) -> None:
    """Record what a run added (``added`` by customers, accounts, … as in ADDED_COLUMNS)."""
    with unit_of_work(engine) as session:
        session.execute(
            update(ImportRun)
            .where(ImportRun.id == run_id)
            .values(
                status="finished",
                finished_at=dt.datetime.now(dt.UTC),
                rejected=rejected,
                rejects_file=rejects_file,
                **{ADDED_COLUMNS[name]: count for name, count in added.items()},
            )
        )


def fail_run(engine: Engine, run_id: int, error: str) -> None:
    """Record that a run failed, and why (it added nothing: its load rolled back)."""
    with unit_of_work(engine) as session:
        session.execute(
            update(ImportRun)
            .where(ImportRun.id == run_id)
            .values(status="failed", finished_at=dt.datetime.now(dt.UTC), error=error[:2000])
        )


def run_status(engine: Engine, run_id: int) -> str | None:
    with unit_of_work(engine) as session:
        return session.execute(select(ImportRun.status).where(ImportRun.id == run_id)).scalar()


def other_runs(engine: Engine, run_id: int) -> int:
    """How many runs besides ``run_id`` the store has recorded."""
    with unit_of_work(engine) as session:
        return int(
            session.execute(
                select(func.count()).select_from(ImportRun).where(ImportRun.id != run_id)
            ).scalar_one()
        )
