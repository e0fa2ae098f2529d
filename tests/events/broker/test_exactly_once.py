"""Exactly once under faults: a synthetic month with duplicated and reordered events, the
consumer process killed with SIGKILL at random points (its intake process with it) and
restarted, ends with the same ledger, features, decisions and outbox as an uninterrupted run
(equal digests). The accounts hold early-warning scores, so the shipped warning.yaml fires
interventions and queues messages during the month: the decisions and the outbox compared are
not empty."""

from __future__ import annotations

import asyncio
import random
import signal
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from cardpilot.cli.output import envelope_data
from cardpilot.events.synthetic import Faults, synthetic_month, with_faults
from cardpilot.store.events import intake_digests, receipt_counts
from cardpilot.store.warning_interventions import insert_scores
from cardpilot.stream.broker import Broker
from cardpilot.warning.policy import load_warning_policy

from ..replay_support import score_rows
from .helpers import (
    account_ids,
    consume_all,
    dead_letters,
    delete_streams,
    make_store,
    publish,
)
from .processes import gone, intake_children, start_consumer

pytestmark = pytest.mark.slow


def _digests(engine) -> dict[str, str]:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return intake_digests(conn)


def _dead(broker: Broker) -> list[tuple[object, ...]]:
    return sorted(
        (str(d["event_id"]), d["kind"], d["field"], d["reason"]) for d in dead_letters(broker)
    )


def _applied(engine) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return sum(receipt_counts(conn).values())


def _scored_store(url: str, accounts: list[str]):  # type: ignore[no-untyped-def]
    engine = make_store(url, accounts)
    with engine.begin() as conn:
        insert_scores(conn, score_rows(accounts))
    return engine


def _fired(engine) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        decisions = conn.execute(text("SELECT COUNT(*) FROM warning_interventions")).scalar_one()
        queued = conn.execute(text("SELECT COUNT(*) FROM notify_outbox")).scalar_one()
    return int(decisions), int(queued)


def _kill_after(engine, proc, target: int) -> bool:  # type: ignore[no-untyped-def]
    """SIGKILL ``proc`` once the store holds ``target`` receipts; False if it ended first.
    Its intake process (which wrote them) dies with it."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if _applied(engine) >= target:
            children = intake_children(proc.pid)
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
            assert len(children) == 1
            assert _ended(children[0])
            return True
        time.sleep(0.01)
    proc.kill()
    proc.wait(30)
    return False


def _ended(pid: int) -> bool:
    deadline = time.monotonic() + 10
    while not gone(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    return gone(pid)


def test_killed_and_restarted_consumer_ends_equal_to_an_uninterrupted_run(
    broker: Broker, tmp_path: Path
) -> None:
    accounts = account_ids(40)
    lines = with_faults(synthetic_month(accounts, events_per_account=25), Faults())
    quiet = Broker(broker.url, broker.stream + "_Q", broker.prefix + ".q", broker.durable + "q")
    try:
        calm = _scored_store(f"sqlite:///{tmp_path / 'calm.db'}", accounts)
        publish(quiet, lines)
        consume_all(calm, quiet, batch=50, warning=load_warning_policy())
        expected, expected_dead = _digests(calm), _dead(quiet)
        decisions, queued = _fired(calm)
        assert decisions > 0
        assert queued > 0
    finally:
        asyncio.run(delete_streams(quiet))

    url = f"sqlite:///{tmp_path / 'killed.db'}"
    killed = _scored_store(url, accounts)
    publish(broker, lines)
    rng = random.Random(2026)
    kills = 0
    for _ in range(4):
        target = _applied(killed) + rng.randint(20, 200)
        proc = start_consumer(url, tmp_path / "home", broker, "--idle-exit", "4", batch=10)
        kills += _kill_after(killed, proc, target)
    final = start_consumer(url, tmp_path / "home", broker, "--idle-exit", "4", batch=10)
    out, err = final.communicate(timeout=300)
    assert final.returncode == 0, err
    assert envelope_data(out)["applied"] > 0
    assert kills >= 3
    assert _digests(killed) == expected
    assert _fired(killed) == (decisions, queued)
    assert _dead(broker) == expected_dead
    with killed.connect() as conn:
        counts = receipt_counts(conn)
    assert counts["applied"] == 40 * 25 - 3  # three held back beyond the window
    assert counts["dead"] == 3
