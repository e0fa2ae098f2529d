"""How fast this machine runs right now: a fixed workload, timed in CPU seconds.

The benchmarks' wall times move by more than half from one hour to the next on a shared
2-core machine even when it is otherwise idle: the same 1M review took 25.6 CPU-s at one
time and 42.8 at another. A run's figures are only comparable with others measured at a
similar speed, so each benchmark records this probe before and after its runs. The workload
is the kind the benchmarks do (sorting and hashing columns far larger than the caches, and a
Python loop): a tight loop alone stayed within 10 % while the benchmarks slowed by 70 %.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from typing import Any


def cpu_seconds(who: int = resource.RUSAGE_SELF) -> float:
    """User + system CPU seconds: steadier than the clock when other work shares the cores."""
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def steal_seconds() -> float | None:
    """CPU seconds the hypervisor gave other guests while this one's work was ready to run.

    The eighth figure of ``/proc/stat``'s ``cpu`` line, summed over every core since boot
    (``None`` where there is no such file). The difference across a run tells whether a slow
    run was this machine's cores being taken away rather than the code doing more work.
    """
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = stat.readline().split()
    except OSError:
        return None
    if len(fields) < 9 or fields[0] != "cpu":
        return None
    return int(fields[8]) / os.sysconf("SC_CLK_TCK")


def steal_since(before: float | None) -> float | None:
    """Steal seconds since the reading ``before`` (:func:`steal_seconds`), to 0.01 s; None
    when either reading is unknown."""
    after = steal_seconds()
    return round(after - before, 2) if before is not None and after is not None else None


def speed_probe() -> dict[str, float]:
    """CPU seconds of a fixed memory-bound workload and of a fixed Python loop (single thread)."""
    import numpy as np

    rng = np.random.default_rng(20261202)
    values = rng.integers(0, 1 << 40, size=4_000_000)
    started = cpu_seconds()
    for _ in range(2):
        order = np.argsort(values, kind="stable")
        values = values[order] ^ (order.astype(np.int64) * 2654435761)
    memory = cpu_seconds() - started
    started = cpu_seconds()
    total = 0
    for i in range(5_000_000):
        total += i
    loop = cpu_seconds() - started
    return {"memory_cpu_s": round(memory, 3), "python_cpu_s": round(loop, 3), "at": time.time()}


if __name__ == "__main__":
    import json

    print(json.dumps(speed_probe()))


def child_json(script: str, *args: str) -> dict[str, Any]:
    """Run ``script --child ARGS`` in a fresh interpreter (its own peak memory and CPU) and
    return the JSON of its last line; a failed child ends the benchmark with its stderr."""
    proc = subprocess.run(
        [sys.executable, script, "--child", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    if proc.returncode != 0:
        raise SystemExit(f"child failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    line: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return line
