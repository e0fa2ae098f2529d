"""The send window: at most ``size`` messages handed to a channel and not yet recorded.

A message is *open* from the moment the channel takes a place for it (``admit``) until its
outcome is committed to the outbox. Outcomes go to a writer thread as they arrive; it commits
whatever has arrived since its last write in one transaction (a group commit: a few outcomes
when the store is quick, more when it is slow, never more than the window), and only a
committed write frees places. So a dispatcher killed at any moment has at most ``size``
messages that a receiver may have accepted while the outbox still says ``sending``: those, and
only those, go again after the lease. Everything recorded stays recorded; everything not yet
admitted was never sent.

The channel never waits on the store while it has messages in flight: it reads their answers
while the writer commits. A full window always holds a message in flight (its outcome will
arrive) or outcomes the writer is committing, so a wait in ``admit`` always ends.
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
    def __init__(self, size: int, write: Writer) -> None:
        if size < 1:
            raise ValueError(f"the send window must hold at least one message, got {size}")
        self.size = size
        self._write = write
        self._cond = threading.Condition()
        self._open = 0
        self._buffer: list[tuple[int, SendResult]] = []
        self._reported: set[int] = set()
        self._failed: BaseException | None = None
        self._closing = False
        self._writer: threading.Thread | None = None
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
            if self._writer is None:
                self._writer = threading.Thread(
                    target=self._run, name="outcome-writer", daemon=True
                )
                self._writer.start()
            self._cond.notify_all()

    # -- the dispatcher's side ----------------------------------------------------------
    def finish(self, results: Sequence[SendResult]) -> None:
        """After the channel returned: wait for the writer, then record every outcome the
        channel did not report on the way (a connection lost mid-batch, a channel that
        failed). Raises what made a write fail."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
            writer = self._writer
        if writer is not None:
            writer.join()
        if self._failed is not None:
            raise self._failed
        rest = [(i, r) for i, r in enumerate(results) if i not in self._reported]
        self._reported.update(range(len(results)))
        if rest:
            self._write(rest)
            self.flushes += 1

    @property
    def open(self) -> int:
        with self._cond:
            return self._open

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._buffer and not self._closing:
                    self._cond.wait()
                if not self._buffer:
                    return
                batch, self._buffer = self._buffer, []
            try:
                self._write(batch)
            except BaseException as exc:
                with self._cond:
                    self._failed = exc
                    self._cond.notify_all()
                return
            with self._cond:
                self._open = max(0, self._open - len(batch))
                self.flushes += 1
                self._cond.notify_all()

    def _raise_if_failed(self) -> None:
        if self._failed is not None:
            raise WindowBrokenError(f"recording outcomes failed: {self._failed}") from self._failed
