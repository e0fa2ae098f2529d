"""The chunked job loop every batch job runs.

    chunks ─(read on a thread)─► decide ─► write (one transaction) ─► collect ─► progress

A job hands in its chunks (a store reader) and three steps: ``decide`` (the chunk's work, timed
in the job's own stages; ``None``: nothing to write), ``write`` (one chunk in one transaction,
committed before it returns: a process killed at any point leaves whole chunks) and
``collect`` (the write's outcome, added up on the job's thread in chunk order). With
``write_behind`` a chunk is written on a thread of its own while the next one is decided: one
write in flight at most, so chunks still commit in order, one at a time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Generic, TypeVar

from cardpilot.batch.kill_hook import KillHook
from cardpilot.batch.prefetch import prefetched

Chunk = TypeVar("Chunk")
Planned = TypeVar("Planned")
Written = TypeVar("Written")

# (accounts done, accounts in the store)
ProgressCallback = Callable[[int, int], None]
READ_STAGE = "read"  # waiting for the next chunk
WRITE_STAGE = "persist"  # writing, or waiting for the write before


class StageClock:
    """Seconds per stage of a job (where the time went), in the order the stages are named:
    on the clock (``seconds``) and, for the stages timed with ``timing``, the CPU seconds the
    whole process spent meanwhile (``cpu_seconds``: its other threads' too, such as the chunk
    reader's; on a loaded machine the steadier figure)."""

    def __init__(self, *stages: str) -> None:
        self.seconds: dict[str, float] = dict.fromkeys(stages, 0.0)
        self.cpu_seconds: dict[str, float] = {}

    @contextmanager
    def timing(self, stage: str) -> Iterator[None]:
        started, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.add(stage, time.perf_counter() - started)
            self.cpu_seconds[stage] = self.cpu_seconds.get(stage, 0.0) + (time.process_time() - cpu)

    def add(self, stage: str, seconds: float) -> None:
        self.seconds[stage] = self.seconds.get(stage, 0.0) + seconds

    def rounded(self) -> dict[str, float]:
        return {k: round(v, 3) for k, v in self.seconds.items()}

    def rounded_cpu(self) -> dict[str, float]:
        """CPU seconds of the stages timed with ``timing``, in the stages' order."""
        order = [*self.seconds, *(k for k in self.cpu_seconds if k not in self.seconds)]
        return {k: round(self.cpu_seconds[k], 2) for k in order if k in self.cpu_seconds}


@dataclass(frozen=True)
class ChunkSteps(Generic[Chunk, Planned, Written]):
    """A job's steps for one chunk (see the module)."""

    seen: Callable[[Chunk], int]  # accounts the chunk covers, for the progress
    decide: Callable[[Chunk, StageClock], Planned | None]
    # ``before_commit``: to call inside the transaction, after everything else was written.
    write: Callable[[Planned, Callable[[], None]], Written]
    collect: Callable[[Planned, Written], None]


def run_chunked(
    chunks: Iterator[Chunk],
    steps: ChunkSteps[Chunk, Planned, Written],
    *,
    clock: StageClock,
    total: int,
    progress: ProgressCallback | None = None,
    write_behind: bool = False,
    kill_hook: KillHook | None = None,
) -> None:
    """Run ``steps`` over ``chunks`` (read one ahead on a thread); see the module."""
    done = 0
    if progress:
        progress(0, total)
    with ExitStack() as stack:
        background = (
            stack.enter_context(ThreadPoolExecutor(1, "chunk-writer")) if write_behind else None
        )
        pending: tuple[Planned, Future[Written]] | None = None

        def write(planned: Planned, chunk_no: int) -> Written:
            inside = (lambda: kill_hook.inside_transaction(chunk_no)) if kill_hook else _nothing
            written = steps.write(planned, inside)
            if kill_hook:
                kill_hook.after_commit(chunk_no)
            return written

        clock_at = time.perf_counter()
        for chunk_no, chunk in enumerate(prefetched(chunks), start=1):
            clock.add(READ_STAGE, time.perf_counter() - clock_at)
            done += steps.seen(chunk)
            planned = steps.decide(chunk, clock)
            if planned is not None:
                with clock.timing(WRITE_STAGE):
                    if pending is not None:  # the previous chunk's write, before this one's
                        steps.collect(pending[0], pending[1].result())
                        pending = None
                    if background is None:
                        steps.collect(planned, write(planned, chunk_no))
                    else:
                        pending = (planned, background.submit(write, planned, chunk_no))
            if progress:
                progress(done, total)
            clock_at = time.perf_counter()
        with clock.timing(WRITE_STAGE):
            if pending is not None:
                steps.collect(pending[0], pending[1].result())


def _nothing() -> None:
    return None
