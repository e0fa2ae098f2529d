"""A process's side of the key-file race: it makes (or reads) the local key ring in each of
``homes``, in step with the other processes (``barrier``), and reports what it got (or the
error that stopped it, which also stops the others)."""

from __future__ import annotations

from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path


def ring_in_each_home(barrier: Barrier, homes: list[str], out: Queue[list[str]]) -> None:
    from cardpilot.privacy.keys import load_or_create_local_ring

    specs = []
    try:
        for home in homes:
            barrier.wait(timeout=60)
            specs.append(load_or_create_local_ring(Path(home)).to_spec())
    except Exception as exc:
        barrier.abort()
        specs.append(f"error: {exc!r}")
    out.put(specs)
