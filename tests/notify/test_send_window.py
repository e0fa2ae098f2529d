"""The send window: outcomes are recorded as they arrive, so a dispatcher killed mid-batch
re-sends at most ``window`` messages, never the whole claimed batch.

The kill tests run the dispatcher as its own process against a real peer on loopback (the npm
`smpp` package's SMSC, aiosmtpd, an HTTP gateway), each answering slowly enough to be killed
mid-batch, SIGKILL it, restart it, and count at the peer what arrived twice.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select

from cardpilot.config import Settings
from cardpilot.notify import enqueue_notices
from cardpilot.notify.channels import SendResult
from cardpilot.notify.channels.smpp import SmppChannel
from cardpilot.notify.dispatch import Dispatcher, outbox_status
from cardpilot.notify.window import AckWindow, WindowBrokenError
from cardpilot.privacy import FieldCipher
from cardpilot.store.db import make_engine, unit_of_work, upgrade
from cardpilot.store.notify_models import OutboxMessage

from .conftest import DAYTIME, SECRET, add_customers, notice_for
from .peers import run as peers

OK = SendResult(ok=True, provider_ref="r")


# -- the window on its own ------------------------------------------------------------------


def test_the_window_never_lets_more_than_its_size_go_unrecorded() -> None:
    written: list[int] = []
    most = {"open": 0}
    window = AckWindow(8, lambda done: written.extend(i for i, _ in done))

    def sender(indices: range) -> None:
        for i in indices:
            window.admit()
            most["open"] = max(most["open"], window.open)
            time.sleep(0.001)
            window.done(i, OK)

    threads = [threading.Thread(target=sender, args=(range(k, 400, 4),)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    window.finish([OK] * 400)
    assert most["open"] <= 8
    assert sorted(written) == list(range(400))
    assert window.flushes >= 400 // 8  # no write holds more than the window


def test_outcomes_the_channel_did_not_report_are_recorded_when_it_returns() -> None:
    written: list[tuple[int, bool]] = []
    window = AckWindow(4, lambda done: written.extend((i, r.ok) for i, r in done))
    window.admit()
    window.done(0, OK)
    lost = SendResult(ok=False, error="connection lost")
    window.finish([OK, lost, lost])
    assert sorted(written) == [(0, True), (1, False), (2, False)]


def test_a_failed_write_stops_the_channel_from_sending_more() -> None:
    def fail(_done: list[tuple[int, SendResult]]) -> None:
        raise OSError("disk full")

    window = AckWindow(1, fail)
    window.admit()
    window.done(0, OK)
    with pytest.raises(WindowBrokenError, match="disk full"):
        window.admit()  # waits for the place the failed write would have freed
    with pytest.raises(OSError, match="disk full"):
        window.finish([OK, OK])


def test_a_window_of_less_than_one_message_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        AckWindow(0, lambda _done: None)


# -- recorded as they arrive ----------------------------------------------------------------


def test_each_submit_sm_resp_is_recorded_while_the_batch_is_still_going(
    store_url: str, cipher: FieldCipher, tmp_path: Path
) -> None:
    upgrade(store_url)
    engine = make_engine(store_url)
    n, window = 60, 8
    add_customers(engine, cipher, n)
    with unit_of_work(engine) as session:
        enqueue_notices(session, [notice_for(i) for i in range(n)], channels=("sms",), now=DAYTIME)
    peer = peers.smpp_peer(tmp_path / "smpp.jsonl").start()
    try:
        smsc = SmppChannel.from_url(f"smpp://cp:pw@127.0.0.1:{peer.port}?window=256")
        dispatcher = Dispatcher(
            engine, {"sms": smsc}, cipher, batch_size=n, window=window, clock=lambda: DAYTIME
        )
        report = dispatcher.run_once()
        dispatcher.close()
    finally:
        peer.stop()
    with engine.connect() as conn:
        refs = conn.scalars(select(OutboxMessage.provider_ref)).all()
    engine.dispose()
    assert report.sent == n
    assert report.batches == 1
    assert report.flushes >= n // window  # one batch, many small writes
    # The SMSC's message ids, one per part, each given once.
    ids = [part for ref in refs for part in (ref or "").split(",")]
    assert len(ids) > n
    assert all(part.isdigit() for part in ids)
    assert len(set(ids)) == len(ids)


# -- kill -9 mid-batch ----------------------------------------------------------------------


def _daytime_offset() -> float:
    """Seconds to add to the real clock to make it 10:00 in Shanghai (outside quiet hours)."""
    now = dt.datetime.now(dt.UTC)
    return (dt.datetime.combine(now.date(), dt.time(2, 0), dt.UTC) - now).total_seconds()


def _wait_for(predicate: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not predicate():
        time.sleep(0.02)


def _sent(engine: object) -> int:
    with engine.connect() as conn:  # type: ignore[attr-defined]
        return int(
            conn.scalar(
                select(func.count()).select_from(OutboxMessage).where(OutboxMessage.state == "sent")
            )
        )


def _kill_mid_batch_and_restart(
    store_url: str,
    settings: Settings,
    cipher: FieldCipher,
    *,
    channel: str,
    peer: peers.Peer,
    channel_env: dict[str, str],
    n: int,
    window: int,
    kill_after: int,
) -> dict[str, int]:
    """Queue ``n`` messages, start a dispatcher claiming them all in one batch, SIGKILL it once
    the peer has ``kill_after``, restart it after the lease; returns what the peer and the
    outbox saw."""
    upgrade(store_url)
    engine = make_engine(store_url)
    add_customers(engine, cipher, n)
    offset = _daytime_offset()
    shifted_now = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=offset)
    with unit_of_work(engine) as session:
        enqueue_notices(
            session,
            [notice_for(i) for i in range(n)],
            channels=(channel,),
            now=shifted_now - dt.timedelta(minutes=1),
        )
    env = dict(
        os.environ,
        CARDPILOT_HOME=str(settings.home),
        CARDPILOT_PII_KEYS=settings.pii_keys or "",
        CARDPILOT_DATABASE_URL=store_url,
        CARDPILOT_TEST_CLOCK_OFFSET=str(offset),
        **channel_env,
    )
    proc = [sys.executable, str(Path(peers.__file__).parent / "dispatcher_proc.py")]
    try:
        worker = subprocess.Popen(
            [*proc, "worker", str(n), "1", str(window)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_for(lambda: peer.count_lines() >= kill_after, timeout=120)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()
        time.sleep(1.2)  # the peer takes in what was on the wire; the dead worker's lease ends
        at_kill = {"accepted": len(peer.accepted()), "recorded": _sent(engine)}
        done = subprocess.run(
            [*proc, "once", str(n), "120"], env=env, capture_output=True, text=True, timeout=180
        )
        assert done.returncode == 0, done.stderr[-3000:]
        _wait_for(lambda: len(peer.accepted()) >= n, timeout=30)
        entries = peer.entries()
        totals = outbox_status(engine)["totals"]
    finally:
        engine.dispose()
    assert totals == {"sent": n}
    keys = [e["key"] for e in entries if not e["duplicate"]]
    assert len(keys) == len(set(keys)) == n  # every message arrived
    return at_kill | {"duplicates": sum(1 for e in entries if e["duplicate"])}


# (channel, the peer, its URL settings, messages, window): each peer answers slowly (SMPP:
# 100 ms a submit_sm_resp; SMTP: 50 ms a message; HTTP: 50 ms a POST) so the kill lands with
# far more than the window accepted.
def _smpp(tmp_path: Path) -> tuple[peers.Peer, dict[str, str]]:
    peer = peers.smpp_peer(tmp_path / "smpp.jsonl", delay_ms=100).start()
    return peer, {"CARDPILOT_SMPP_URL": f"smpp://cp:pw@127.0.0.1:{peer.port}?window=256"}


def _smtp(tmp_path: Path) -> tuple[peers.Peer, dict[str, str]]:
    peer = peers.smtp_peer(tmp_path / "smtp.jsonl", None, "--delay", "0.05").start()
    return peer, {"CARDPILOT_SMTP_URL": f"smtp://127.0.0.1:{peer.port}?connections=2"}


def _push(tmp_path: Path) -> tuple[peers.Peer, dict[str, str]]:
    peer = peers.http_peer(tmp_path / "http.jsonl", SECRET, "--delay", "0.05").start()
    return peer, {
        "CARDPILOT_PUSH_URL": f"http://127.0.0.1:{peer.port}/m?connections=4",
        "CARDPILOT_PUSH_SECRET": SECRET,
    }


KILL_CASES = [
    pytest.param("sms", _smpp, 600, 32, id="smpp"),
    pytest.param("email", _smtp, 80, 4, id="smtp"),
    pytest.param("app", _push, 200, 8, id="push"),
]


@pytest.mark.parametrize(("channel", "start_peer", "n", "window"), KILL_CASES)
def test_a_dispatcher_killed_mid_batch_resends_at_most_its_window(
    store_url: str,
    settings: Settings,
    cipher: FieldCipher,
    tmp_path: Path,
    channel: str,
    start_peer: Callable[[Path], tuple[peers.Peer, dict[str, str]]],
    n: int,
    window: int,
) -> None:
    peer, channel_env = start_peer(tmp_path)
    try:
        seen = _kill_mid_batch_and_restart(
            store_url,
            settings,
            cipher,
            channel=channel,
            peer=peer,
            channel_env=channel_env,
            n=n,
            window=window,
            kill_after=5 * window,
        )
    finally:
        peer.stop()
    # The whole batch was claimed and far more than the window accepted before the kill: the
    # outbox had recorded all but the window's worth as they arrived, and only those came again
    # (before, every message accepted from the claimed batch did).
    assert 5 * window <= seen["accepted"] < n
    assert seen["accepted"] - seen["recorded"] <= window
    assert seen["duplicates"] <= window
