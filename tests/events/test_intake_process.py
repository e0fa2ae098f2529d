"""The consumer's store side in a child process (``stream.intake_process``): the same results
and store as on a thread of the consumer, in submission order; a failure fails that batch and
every later one and ends the child; the child dies with its parent; an in-memory store is
refused."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import StaticPool

from cardpilot.events.policy import load_events_policy
from cardpilot.store.events import intake_digests
from cardpilot.stream import intake_process
from cardpilot.stream.batch_intake import BatchFailedBeforeError, Intake
from cardpilot.stream.consumer import ConsumeOptions, open_intake
from cardpilot.stream.intake_process import IntakeProcess, IntakeProcessError
from cardpilot.warning.policy import load_warning_policy

from .broker.processes import gone
from .replay_support import TZ, account_ids, month_lines, scored_store

pytestmark = pytest.mark.slow


def _wait_gone(pid: int, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if gone(pid):
            return True
        time.sleep(0.05)
    return False


def _intake_process(url: str) -> IntakeProcess:
    return IntakeProcess(url, load_events_policy(), TZ, load_warning_policy())


def test_batches_decided_in_the_child_come_back_in_order_and_write_what_a_thread_writes(
    tmp_path: Path, store_url: str
) -> None:
    """On either store (the child opens it from the URL, password and all)."""
    accounts = account_ids(30)
    lines = month_lines(accounts)
    threaded = scored_store(f"sqlite:///{tmp_path / 'thread.db'}", accounts)
    url = store_url
    child = scored_store(url, accounts)
    expected = Intake(threaded, load_events_policy(), TZ, load_warning_policy())
    wanted = [expected.process(lines[s : s + 40]) for s in range(0, len(lines), 40)]

    intake = _intake_process(url)
    try:
        futures = [intake.submit(lines[s : s + 40]) for s in range(0, len(lines), 40)]
        got = [f.result(timeout=120) for f in futures]
    finally:
        intake.close()

    assert [d.outcomes for d in got] == [d.outcomes for d in wanted]
    assert [d.dead_letters for d in got] == [d.dead_letters for d in wanted]
    assert [(d.added, d.triggers_fired) for d in got] == [
        (d.added, d.triggers_fired) for d in wanted
    ]
    assert sum(d.triggers_fired for d in got) > 0
    assert intake.cpu_s > 0
    assert gone(intake.pid)
    with threaded.connect() as a, child.connect() as b:
        assert intake_digests(b) == intake_digests(a)


def test_a_failed_batch_fails_every_later_one_and_ends_the_child(tmp_path: Path) -> None:
    accounts = account_ids(10)
    lines = month_lines(accounts, per_account=10)
    url = f"sqlite:///{tmp_path / 'child.db'}"
    engine = scored_store(url, accounts)
    intake = _intake_process(url)
    try:
        assert intake.submit(lines[:20]).result(timeout=120).outcomes
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE event_receipts"))
        failed, later = intake.submit(lines[20:40]), intake.submit(lines[40:60])
        with pytest.raises(IntakeProcessError, match=r"failed on a batch: .*event_receipts"):
            failed.result(timeout=120)
        with pytest.raises(IntakeProcessError, match="an earlier batch failed"):
            later.result(timeout=120)
        assert _wait_gone(intake.pid)
        # Nothing more is taken: a batch submitted now fails at once.
        with pytest.raises(IntakeProcessError, match="an earlier batch failed"):
            intake.submit(lines[60:80]).result(timeout=1)
    finally:
        intake.close()


def test_a_child_killed_fails_the_batches_it_held_with_how_it_ended(tmp_path: Path) -> None:
    accounts = account_ids(10)
    url = f"sqlite:///{tmp_path / 'child.db'}"
    scored_store(url, accounts)
    intake = _intake_process(url)
    try:
        os.kill(intake.pid, signal.SIGKILL)
        assert _wait_gone(intake.pid)
        with pytest.raises(IntakeProcessError, match="killed by SIGKILL"):
            intake.submit(month_lines(accounts)[:10]).result(timeout=60)
    finally:
        intake.close()


def test_the_child_ignores_sigterm_and_ends_when_closed(tmp_path: Path) -> None:
    """A service manager's SIGTERM to the whole group reaches the child too: the parent, not
    the child, decides when it ends (after the batches in hand)."""
    accounts = account_ids(10)
    url = f"sqlite:///{tmp_path / 'child.db'}"
    scored_store(url, accounts)
    intake = _intake_process(url)
    os.kill(intake.pid, signal.SIGTERM)
    assert intake.submit(month_lines(accounts)[:10]).result(timeout=60).outcomes
    intake.close()
    assert gone(intake.pid)


def test_a_child_stuck_in_a_batch_is_killed_on_close_after_the_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(intake_process, "CLOSE_TIMEOUT_S", 1.0)
    accounts = account_ids(10)
    lines = month_lines(accounts, per_account=10)
    url = f"sqlite:///{tmp_path / 'child.db'}"
    engine = scored_store(url, accounts)
    intake = _intake_process(url)
    with engine.connect() as conn:
        conn.exec_driver_sql("BEGIN EXCLUSIVE")  # the child's batch waits for the lock
        stuck, queued = intake.submit(lines[:20]), intake.submit(lines[20:40])
        started = time.monotonic()
        intake.close()
        assert time.monotonic() - started < 15
        conn.exec_driver_sql("ROLLBACK")
    assert gone(intake.pid)
    with pytest.raises(IntakeProcessError, match="killed by SIGKILL"):
        stuck.result(timeout=1)
    with pytest.raises(IntakeProcessError, match="an earlier batch failed"):
        queued.result(timeout=1)


PARENT = """
import sys, time
from zoneinfo import ZoneInfo
from cardpilot.events.policy import load_events_policy
from cardpilot.stream.intake_process import IntakeProcess
intake = IntakeProcess(sys.argv[1], load_events_policy(), ZoneInfo("Asia/Shanghai"))
print(intake.pid, flush=True)
time.sleep(600)
"""


def test_the_child_dies_with_its_parent(tmp_path: Path) -> None:
    """A consumer killed with SIGKILL leaves no intake process behind to commit a batch after
    a restarted consumer has started."""
    url = f"sqlite:///{tmp_path / 'child.db'}"
    scored_store(url, account_ids(5))
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, url], stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        assert not gone(child)
    finally:
        parent.kill()
        parent.wait(30)
    assert _wait_gone(child)


@pytest.mark.parametrize(
    "url", ["sqlite://", "sqlite:///:memory:", "sqlite:///file:x?mode=memory&uri=true"]
)
def test_an_in_memory_store_is_refused_for_the_child_with_what_to_do(url: str) -> None:
    engine = create_engine(url, poolclass=StaticPool)  # never connected
    options = ConsumeOptions(intake_process=True)
    with pytest.raises(IntakeProcessError, match=r"in-memory SQLite.*intake_process=False"):
        open_intake(engine, load_events_policy(), TZ, options)


def test_in_process_a_failed_batch_fails_every_later_one(tmp_path: Path) -> None:
    accounts = account_ids(10)
    lines = month_lines(accounts, per_account=10)
    engine = scored_store(f"sqlite:///{tmp_path / 'thread.db'}", accounts)
    intake = open_intake(engine, load_events_policy(), TZ, ConsumeOptions(), load_warning_policy())
    try:
        assert isinstance(intake, Intake)
        assert intake.submit(lines[:20]).result(timeout=60).outcomes
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE event_receipts"))
        failed, later = intake.submit(lines[20:40]), intake.submit(lines[40:60])
        with pytest.raises(Exception, match="event_receipts"):
            failed.result(timeout=60)
        with pytest.raises(BatchFailedBeforeError, match="a batch before this one failed"):
            later.result(timeout=60)
    finally:
        intake.close()
