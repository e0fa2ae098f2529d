"""The send window: at most ``size`` messages handed to a channel and not yet recorded.

A message is *open* from the moment the channel takes a place for it (``admit``) until its
outcome is committed to the outbox. Outcomes are buffered as they arrive and written in small
transactions of ``flush_at`` (a quarter of the window by default), and only a committed write
frees places. So a dispatcher killed at any moment has at most ``size`` messages that a
receiver may have accepted while the outbox still says ``sending``: those, and only those, go
again after the lease. Everything recorded stays recorded; everything not yet admitted was
never sent.

Deadlock-free by construction: the buffer is flushed as soon as it holds ``flush_at`` outcomes
and ``flush_at <= size``, so a full window always holds a message in flight (its outcome will
arrive) or a flush under way.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from cardpilot.notify.channels import SendResult

DEFAULT_WINDOW = 64

Writer = Callable[[list[tuple[int, SendResult]]], None]


class WindowBrokenError(RuntimeError):
    """Recording an outcome failed: nothing more may be sent in this batch."""


class AckWindow:
    def __init__(self, size: int, write: Writer, *, flush_at: int | None = None) -> None:
        if size < 1:
            raise ValueError(f"the send window must hold at least one message, got {size}")
        self.size = size
        self.flush_at = max(1, min(size, flush_at or size // 4))
        self._write = write
        self._cond = threading.Condition()
        self._write_lock = threading.Lock()
        self._open = 0
        self._buffer: list[tuple[int, SendResult]] = []
        self._reported: set[int] = set()
        self._failed: BaseException | None = None
        self.flushes = 0

    # -- the channel's side -------------------------------------------------------------
    def room(self) -> int:
        with self._cond:
            self._raise_if_failed()
            return self.size - self._open

    def admit(self) -> None:
        with self._cond:
            while True:
                self._raise_if_failed()
                if self._open < self.size:
                    self._open += 1
                    return
                self._cond.wait()

    def done(self, index: int, result: SendResult) -> None:
        with self._cond:
            if index in self._reported:
                return
            self._reported.add(index)
            self._buffer.append((index, result))
            if len(self._buffer) < self.flush_at:
                return
            batch, self._buffer = self._buffer, []
        self._commit(batch, admitted=len(batch))

    # -- the dispatcher's side ----------------------------------------------------------
    def finish(self, results: Sequence[SendResult]) -> None:
        """After the channel returned: record what is buffered and every outcome the channel
        did not report on the way (a connection lost mid-batch, a channel that failed)."""
        with self._cond:
            batch, self._buffer = self._buffer, []
            batch.extend((i, r) for i, r in enumerate(results) if i not in self._reported)
            self._reported.update(range(len(results)))
        if batch:
            self._commit(batch, admitted=0)

    @property
    def open(self) -> int:
        with self._cond:
            return self._open

    def _commit(self, batch: list[tuple[int, SendResult]], admitted: int) -> None:
        try:
            with self._write_lock:
                self._write(batch)
                self.flushes += 1
        except BaseException as exc:
            with self._cond:
                self._failed = exc
                self._cond.notify_all()
            raise
        with self._cond:
            self._open = max(0, self._open - admitted)
            self._cond.notify_all()

    def _raise_if_failed(self) -> None:
        if self._failed is not None:
            raise WindowBrokenError(f"recording outcomes failed: {self._failed}") from self._failed
