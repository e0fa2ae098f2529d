"""Reading the next chunk on a thread while the current one is decided and written."""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterator
from typing import Any, TypeVar

T = TypeVar("T")


def prefetched(chunks: Iterator[T]) -> Iterator[T]:
    """``chunks``, each read on a thread while the consumer works on the one before.

    The database drivers wait for I/O and the server's work without the GIL, so reading
    overlaps with the rest; at most two chunks are in memory. Chunks are disjoint account
    ranges, so reading one while the previous one commits sees nothing half-done. When the
    consumer stops early (an error), the reader stops too and closes its source.
    """
    done = object()
    stop = threading.Event()
    slot: queue.Queue[Any] = queue.Queue(maxsize=1)

    def produce() -> None:
        try:
            for chunk in chunks:
                if stop.is_set():
                    break
                slot.put(chunk)
        except BaseException as exc:  # handed to the consumer, raised there
            slot.put(exc)
            return
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        slot.put(done)

    reader = threading.Thread(target=produce, name="chunk-reader", daemon=True)
    reader.start()
    try:
        while True:
            item = slot.get()
            if item is done:
                break
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while reader.is_alive():
            with contextlib.suppress(queue.Empty):
                slot.get(timeout=0.05)
        reader.join()
