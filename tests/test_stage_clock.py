"""A batch job's stage clock: wall seconds per stage, and the process's CPU seconds in the
stages it times, in the stages' order."""

from __future__ import annotations

import time

from cardpilot.batch.loop import StageClock


def _spin(seconds: float) -> None:
    until = time.process_time() + seconds
    while time.process_time() < until:
        pass


def test_timed_stages_count_the_cpu_they_use_and_waiting_counts_none() -> None:
    clock = StageClock("read", "decide", "figures")
    clock.add("read", 0.5)  # a wait, added as wall time only
    with clock.timing("figures"):
        time.sleep(0.05)
    with clock.timing("decide"):
        _spin(0.05)
    cpu = clock.rounded_cpu()
    assert list(cpu) == ["decide", "figures"]
    assert cpu["decide"] >= 0.05
    assert cpu["figures"] < 0.03
    assert clock.rounded()["read"] == 0.5
    assert clock.rounded()["figures"] >= 0.05
