"""An overdue treatment killed at any point (SIGKILL) and run again treats each overdue
account exactly once, with one notice and at most one limit-history row per decision."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from cardpilot.jobs.overdue import KILL_HOOK_ENV, treat_overdue
from cardpilot.store.db import make_engine

from .conftest import AS_OF, EXPECTED_SEGMENT, OVERDUE_PDS

TESTS = Path(__file__).parent.parent

# Two accounts a chunk: a-low and b-deep (both overdue) make the first one.
_CHILD = """
import datetime as dt, sys
sys.path.insert(0, {tests!r})
from support.scorers import overdue_scorer
from cardpilot.jobs.overdue import treat_overdue
scorer = overdue_scorer({pds!r})
treat_overdue({url!r}, scorer, as_of=dt.date.fromisoformat({as_of!r}), chunk_rows=2)
"""


def _run_child(url: str, hook: str) -> subprocess.CompletedProcess[str]:
    code = _CHILD.format(tests=str(TESTS), url=url, pds=OVERDUE_PDS, as_of=AS_OF.isoformat())
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, KILL_HOOK_ENV: hook},
        capture_output=True,
        text=True,
        timeout=300,
    )


def _scalars(url: str, sql: str) -> list[object]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql)).scalars())
    finally:
        engine.dispose()


@pytest.mark.parametrize("hook", ["after:1", "before_commit:2"])
def test_a_treatment_killed_mid_run_and_run_again_treats_each_account_once(
    overdue_store: str, scorer, hook: str
) -> None:
    killed = _run_child(overdue_store, hook)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    # Whole chunks only: the first chunk's two treatments.
    assert sorted(_scalars(overdue_store, "SELECT account_id FROM overdue_treatments")) == [
        "a-low",
        "b-deep",
    ]
    resumed = treat_overdue(overdue_store, scorer, as_of=AS_OF, chunk_rows=2)
    assert (resumed.treated, resumed.skipped) == (4, 2)
    treated = _scalars(overdue_store, "SELECT account_id FROM overdue_treatments")
    assert sorted(treated) == sorted(EXPECTED_SEGMENT)
    refs = _scalars(
        overdue_store,
        "SELECT DISTINCT decision_ref FROM notify_outbox"
        " WHERE decision_ref LIKE 'overdue_treatment:%'",
    )
    assert len(refs) == len(EXPECTED_SEGMENT)
    history = _scalars(
        overdue_store, "SELECT decision_id FROM limit_history WHERE source = 'overdue'"
    )
    assert len(history) == len(set(history)) == resumed.by_limit_action.get("freeze", 0)
