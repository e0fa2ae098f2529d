"""A review killed at any point (SIGKILL) and run again ends with exactly one decision per
account per cycle, account limits equal to the decision's new limit (a decrease's old one: it
waits for its notice period as one pending change), and a limit history with one row per
increase."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from cardpilot.jobs.review import KILL_HOOK_ENV, review_portfolio
from cardpilot.store.db import make_engine
from cardpilot.store.limit_decisions import read_decisions

AS_OF = dt.date(2026, 5, 1)
HERE = Path(__file__).parent

_CHILD = """
import datetime as dt, sys
sys.path.insert(0, {here!r})
from standin import StandInScorer
from cardpilot.jobs.review import review_portfolio
review_portfolio({url!r}, StandInScorer(), as_of=dt.date(2026, 5, 1), chunk_rows=200)
"""


def _run_child(url: str, hook: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, KILL_HOOK_ENV: hook}
    code = _CHILD.format(here=str(HERE), url=url)
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("hook", ["after:2", "before_commit:3"])
def test_review_killed_mid_run_and_run_again_decides_each_account_exactly_once(
    loaded_store, scorer, hook
):
    killed = _run_child(loaded_store, hook)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    engine = make_engine(loaded_store)
    try:
        with engine.connect() as conn:
            partial = conn.execute(text("SELECT COUNT(*) FROM limit_decisions")).scalar_one()
        # Whole chunks only: two committed chunks of 200 accounts.
        assert partial == 400
        resumed = review_portfolio(loaded_store, scorer, as_of=AS_OF, chunk_rows=200)
        assert resumed.skipped == 400
        decisions = read_decisions(engine)
        with engine.connect() as conn:
            accounts = dict(
                conn.execute(text("SELECT account_id, credit_limit_minor FROM accounts")).all()
            )
            history = conn.execute(
                text(
                    "SELECT account_id, new_limit_minor, decision_id FROM limit_history"
                    " WHERE source = 'review'"  # the import also records each opening limit
                )
            ).all()
            runs = dict(conn.execute(text("SELECT id, status FROM review_runs")).all())
            pending = conn.execute(text("SELECT decision_id FROM pending_limit_changes")).all()
    finally:
        engine.dispose()
    assert decisions.height == len(accounts)
    assert decisions["account_id"].n_unique() == len(accounts)
    assert resumed.cycle_decisions == len(accounts)
    last = {r["account_id"]: r for r in decisions.iter_rows(named=True)}
    for account_id, limit in accounts.items():
        waits = last[account_id]["action"] == "decrease"
        assert limit == last[account_id]["old_limit_minor" if waits else "new_limit_minor"]
    changed = {str(r["decision_id"]) for r in last.values() if r["action"] == "increase"}
    assert len(history) == len(changed)
    assert {h[2] for h in history} == changed
    cut = sorted(r["decision_id"] for r in last.values() if r["action"] == "decrease")
    assert sorted(p[0] for p in pending) == cut
    for account_id, new_limit, _ in history:
        assert accounts[account_id] == new_limit
    assert sorted(runs.values()) == ["finished", "interrupted"]
