"""``cardpilot events consume`` decides and writes its batches in a child process: the child
dies with the consumer, and a child that dies stops the consumer with the error before anything
it held is acknowledged."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from pathlib import Path

import pytest
from nats.js.errors import NotFoundError

from cardpilot.cli.output import envelope_data
from cardpilot.store.events import receipt_counts
from cardpilot.stream.broker import Broker, connect

from ..factories import raw
from .helpers import account_ids, make_store, publish
from .processes import gone, intake_children, start_consumer

pytestmark = pytest.mark.slow


async def _ack_floor(broker: Broker) -> int:
    nc, js = await connect(broker)
    try:
        info = await js.consumer_info(broker.stream, broker.durable)
        return int(info.ack_floor.stream_seq or 0) if info.ack_floor else 0
    except NotFoundError:  # the consumer has not made its durable yet
        return 0
    finally:
        await nc.close()


def _until(check, seconds: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _purchases(accounts: list[str], seq: int) -> list[bytes]:
    return [json.dumps(raw("purchase", seq, account=a)).encode() for a in accounts]


def test_a_dead_intake_process_stops_the_consumer_with_the_error_and_nothing_acknowledged(
    broker: Broker, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    accounts = account_ids(5)
    engine = make_store(url, accounts)
    proc = start_consumer(url, tmp_path / "home", broker, "--idle-exit", "60", batch=5)
    try:
        publish(broker, _purchases(accounts, 1))
        _until(lambda: asyncio.run(_ack_floor(broker)) == 5)
        (child,) = intake_children(proc.pid)
        os.kill(child, signal.SIGKILL)
        publish(broker, _purchases(accounts, 2))
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 2, err
    assert "intake's process" in err
    assert "killed by SIGKILL" in err
    assert out == ""
    assert asyncio.run(_ack_floor(broker)) == 5
    with engine.connect() as conn:
        assert receipt_counts(conn)["applied"] == 5
    engine.dispose()


def test_a_consumer_killed_takes_its_intake_process_with_it(broker: Broker, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    engine = make_store(url, account_ids(5))
    proc = start_consumer(url, tmp_path / "home", broker, "--idle-exit", "60")
    try:
        _until(lambda: len(intake_children(proc.pid)) == 1)
        (child,) = intake_children(proc.pid)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
    _until(lambda: gone(child), 10.0)
    engine.dispose()


def test_sigterm_to_the_whole_group_still_finishes_and_exits_zero(
    broker: Broker, tmp_path: Path
) -> None:
    """A service manager stops a service by signalling every process of it: the intake's
    process leaves the ending to the consumer, which finishes what it took."""
    url = f"sqlite:///{tmp_path / 's.db'}"
    accounts = account_ids(20)
    engine = make_store(url, accounts)
    publish(broker, _purchases(accounts, 1))
    proc = start_consumer(url, tmp_path / "home", broker, batch=5)
    try:
        _until(lambda: asyncio.run(_ack_floor(broker)) >= 5)
        (child,) = intake_children(proc.pid)
        os.kill(child, signal.SIGTERM)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert gone(child)
    with engine.connect() as conn:
        assert receipt_counts(conn)["applied"] == envelope_data(out)["applied"]
    engine.dispose()
