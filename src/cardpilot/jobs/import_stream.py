"""The import's reading thread: chunks read and checked ahead of the one being loaded."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator

from cardpilot.ingest.generic import TableChunk
from cardpilot.store.loading import StageTimes


def timed_chunks(
    chunks: Iterator[TableChunk], times: StageTimes, stage: str
) -> Iterator[TableChunk]:
    """``chunks``, the time spent getting each added to ``stage:T`` (T: its table, or ``end``)."""
    while True:
        started = time.perf_counter()
        chunk = next(chunks, None)
        times.add(f"{stage}:{chunk.table if chunk else 'end'}", time.perf_counter() - started)
        if chunk is None:
            return
        yield chunk


def read_ahead(chunks: Iterator[TableChunk], depth: int = 1) -> Iterator[TableChunk]:
    """Read and check the next chunks on a thread while this one loads.

    Polars, pyarrow and the database drivers release the GIL, and PostgreSQL works in its own
    process, so reading and loading overlap on a second core. What the reading thread raises
    is raised here, in the loading thread.
    """
    channel: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()
    finished = object()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                channel.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for chunk in chunks:
                if not put(chunk):
                    return
            put(finished)
        except BaseException as exc:  # handed to the loading thread, raised there
            put(exc)

    worker = threading.Thread(target=produce, name="cardpilot-import-reader", daemon=True)
    worker.start()
    try:
        while True:
            item = channel.get()
            if item is finished:
                return
            if isinstance(item, BaseException):
                raise item
            assert isinstance(item, TableChunk)
            yield item
    finally:
        stop.set()
        worker.join()
