"""``cardpilot demo``'s event step without a NATS server: skipped with the reason, nothing else
done."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from cardpilot.cli.demo_events import demo_events, nats_reachable


def test_without_a_reachable_nats_the_event_step_says_so_and_does_nothing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("CARDPILOT_NATS_URL", "nats://127.0.0.1:1")
    store = tmp_path / "never.db"
    demo_events(f"sqlite:///{store}", dt.date(2026, 11, 1))
    out = capsys.readouterr().out
    assert "skipped: NATS is not reachable at nats://127.0.0.1:1" in out
    assert "CARDPILOT_NATS_URL" in out
    assert not store.exists()


def test_a_closed_port_is_not_reachable() -> None:
    assert not nats_reachable("nats://127.0.0.1:1", timeout=0.5)


def test_the_replay_runs_its_own_loop_beside_one_already_running() -> None:
    import asyncio

    from cardpilot.cli.demo_events import _run_async

    async def caller_with_a_loop() -> int:
        return int(_run_async(lambda: asyncio.sleep(0, result=7)))

    assert asyncio.run(caller_with_a_loop()) == 7
