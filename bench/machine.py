"""How fast this machine runs right now: a fixed workload, timed in CPU seconds.

The benchmarks' wall times move by more than half from one hour to the next on a shared
2-core machine even when it is otherwise idle: the same 1M review took 25.6 CPU-s at one
time and 42.8 at another. A run's figures are only comparable with others measured at a
similar speed, so each benchmark records this probe before and after its runs. The workload
is the kind the benchmarks do (sorting and hashing columns far larger than the caches, and a
Python loop): a tight loop alone stayed within 10 % while the benchmarks slowed by 70 %.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


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


def peak_mb(who: int = resource.RUSAGE_SELF) -> float:
    """Peak resident memory in MB: of this process, or the largest of the children it waited for.

    This process's own figure is the kernel's high-water mark of its address space
    (``VmHWM``), where Linux has one: ``ru_maxrss`` carries the peak of the process it was
    started from across ``exec`` (the child is spawned through vfork, sharing the parent's
    memory until it execs), so a child started right after the parent built a 10M-account
    store reported the parent's 6.3 GB as its own.
    """
    if who == resource.RUSAGE_SELF:
        try:
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
        except OSError:
            pass
    own = resource.getrusage(who).ru_maxrss
    scale = 1024 * 1024 if sys.platform == "darwin" else 1024
    return round(own / scale, 1)


def environment() -> dict[str, Any]:
    """When, on which commit and on what a benchmark ran, and the machine's load then."""
    import polars

    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        commit = ""
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "commit": commit,
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "polars": polars.__version__,
        # Other work on the machine slows every figure down: the load when the runs ended.
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


if __name__ == "__main__":
    print(json.dumps(speed_probe()))
