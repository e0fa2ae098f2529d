"""Previews decided together (``service.decision_batches``): each request gets its own row's
decision, the same as deciding its row alone, whichever rows share the call; a failure reaches
every request of its call."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from cardpilot.service.decision_batches import DecisionBatches

DAY = dt.date(2026, 11, 1)


def test_concurrent_rows_are_decided_together_and_each_gets_its_own():
    calls: list[int] = []

    def decide(day: dt.date, rows: list[dict]) -> list[dict]:
        calls.append(len(rows))
        return [{"id": r["id"], "day": day, "twice": r["id"] * 2} for r in rows]

    batches = DecisionBatches(decide, window=0.05)
    out: dict[int, dict] = {}

    def ask(i: int) -> None:
        out[i] = batches.decide(DAY, {"id": i})

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert out == {i: {"id": i, "day": DAY, "twice": 2 * i} for i in range(20)}
    assert sum(calls) == 20
    assert len(calls) < 20  # some shared a call


def test_a_failed_call_fails_its_requests_and_the_next_ones_still_work():
    def decide(day: dt.date, rows: list[dict]) -> list[dict]:
        if any(r.get("bad") for r in rows):
            raise ValueError("no decision")
        return rows

    batches = DecisionBatches(decide, window=0.0)
    with pytest.raises(ValueError, match="no decision"):
        batches.decide(DAY, {"bad": True})
    assert batches.decide(DAY, {"id": 1}) == {"id": 1}
