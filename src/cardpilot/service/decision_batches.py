"""Previews that arrive together are decided together: one ``decide_limits`` call for the
scored rows of every request waiting, each request then reading its own row back.

``decide_limits`` costs a few milliseconds whether it decides one account or fifty (its Polars
stages are planned per call), so under load a worker answers many previews for the price of a
few. A decision reads only its own row (the function is row-wise), so an account's decision
is the same whichever accounts share its call: tests/service/test_decision_batches.py.

One thread per worker process decides: it takes the first row waiting, waits while other
previews are on their way (announced by ``arrival`` when a request starts, until its row is
queued or it gives up), at most ``MOST_WAIT_SECONDS``, and decides every row then waiting, a
call per as-of day. A lone request does not wait at all.
"""

from __future__ import annotations

import datetime as dt
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

Row = dict[str, Any]
# Rows of one day in, their decision rows out, in the same order.
Decide = Callable[[dt.date, list[Row]], list[Row]]
MOST_WAIT_SECONDS = 0.006
POLL_SECONDS = 0.0005
MAX_ROWS = 256


class Arrival:
    """A preview on its way to ``decide``: counted as coming until its row is queued or
    ``done`` is called (its request failed, or took another way)."""

    def __init__(self, owner: DecisionBatches) -> None:
        self._owner = owner
        self._live = True
        owner._arrived(+1)

    def done(self) -> None:
        if self._live:
            self._live = False
            self._owner._arrived(-1)


class DecisionBatches:
    """``decide(day, row)`` from many threads; the rows are decided a batch at a time."""

    def __init__(self, decide: Decide, most_wait: float = MOST_WAIT_SECONDS) -> None:
        self._decide = decide
        self._most_wait = most_wait
        self._coming = 0
        self._count = threading.Lock()
        self._waiting: queue.SimpleQueue[tuple[dt.date, Row, Future[Row]]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start = threading.Lock()

    def arrival(self) -> Arrival:
        """Announce a preview: the next call waits for it (a little)."""
        return Arrival(self)

    def _arrived(self, step: int) -> None:
        with self._count:
            self._coming += step

    def decide(self, day: dt.date, row: Row, arrival: Arrival | None = None) -> Row:
        """The decision row of ``row`` on ``day``, decided with whatever else is waiting."""
        if self._thread is None:
            with self._start:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="decision-batches", daemon=True
                    )
                    self._thread.start()
        done: Future[Row] = Future()
        self._waiting.put((day, row, done))
        if arrival is not None:
            arrival.done()
        return done.result()

    def _run(self) -> None:
        while True:
            batch = [self._waiting.get()]
            until = time.monotonic() + self._most_wait
            while self._coming > 0 and time.monotonic() < until:
                time.sleep(POLL_SECONDS)
            while len(batch) < MAX_ROWS:
                try:
                    batch.append(self._waiting.get_nowait())
                except queue.Empty:
                    break
            by_day: dict[dt.date, list[tuple[Row, Future[Row]]]] = {}
            for day, row, done in batch:
                by_day.setdefault(day, []).append((row, done))
            for day, items in by_day.items():
                self._answer(day, items)

    def _answer(self, day: dt.date, items: list[tuple[Row, Future[Row]]]) -> None:
        try:
            decided = self._decide(day, [row for row, _ in items])
        except Exception as exc:  # every request of the call learns why
            for _, done in items:
                done.set_exception(exc)
            return
        for (_, done), out in zip(items, decided, strict=True):
            done.set_result(out)
