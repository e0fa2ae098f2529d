"""Previews that arrive together are decided together: one ``decide_limits`` call for the
scored rows of every request waiting, each request then reading its own row back.

``decide_limits`` costs a few milliseconds whether it decides one account or fifty (its Polars
stages are planned per call), so under load a worker answers many previews for the price of a
few. A decision reads only its own row (the function is row-wise), so an account's decision
is the same whichever accounts share its call: tests/service/test_decision_batches.py.

One thread per worker process decides: it takes the first row waiting, waits ``WINDOW_SECONDS``
for others to join, and decides them all, a call per as-of day.
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
WINDOW_SECONDS = 0.002
MAX_ROWS = 256


class DecisionBatches:
    """``decide(day, row)`` from many threads; the rows are decided a batch at a time."""

    def __init__(self, decide: Decide, window: float = WINDOW_SECONDS) -> None:
        self._decide = decide
        self._window = window
        self._waiting: queue.SimpleQueue[tuple[dt.date, Row, Future[Row]]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start = threading.Lock()

    def decide(self, day: dt.date, row: Row) -> Row:
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
        return done.result()

    def _run(self) -> None:
        while True:
            batch = [self._waiting.get()]
            if self._window:
                time.sleep(self._window)
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
