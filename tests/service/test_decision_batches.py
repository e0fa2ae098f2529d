"""Previews decided together (``service.decision_batches``): each request gets its own row's
decision, the requests announced are waited for and share one call, a lone one does not wait,
and a failure reaches every request of its call (that the decision of a row is the same alone
or together: tests/service/test_preview_rows.py)."""

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

    batches = DecisionBatches(decide, most_wait=5.0)
    out: dict[int, dict] = {}
    arrivals = [batches.arrival() for _ in range(20)]  # all on their way before any is queued

    def ask(i: int) -> None:
        out[i] = batches.decide(DAY, {"id": i}, arrivals[i])

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert out == {i: {"id": i, "day": DAY, "twice": 2 * i} for i in range(20)}
    assert sum(calls) == 20
    assert calls == [20]  # the first waited for the others announced


def test_a_failed_call_fails_its_requests_and_the_next_ones_still_work():
    def decide(day: dt.date, rows: list[dict]) -> list[dict]:
        if any(r.get("bad") for r in rows):
            raise ValueError("no decision")
        return rows

    batches = DecisionBatches(decide, most_wait=0.0)
    with pytest.raises(ValueError, match="no decision"):
        batches.decide(DAY, {"bad": True})
    assert batches.decide(DAY, {"id": 1}) == {"id": 1}


def test_a_lone_request_does_not_wait_for_one_that_gave_up():
    batches = DecisionBatches(lambda day, rows: rows, most_wait=30.0)
    gave_up = batches.arrival()
    gave_up.done()
    gave_up.done()  # twice is once
    assert batches.decide(DAY, {"id": 1}) == {"id": 1}  # at once, not after 30 s
