"""The median of a benchmark's repeated runs, the figure its target is judged by.

On a shared 2-core machine one run's wall time moves by a third or more with the machine's
own speed (bench/machine.py), so each bench repeats its runs and reports, beside every run,
one summary per configuration: the median and the range of the times, the highest peak of
memory and the CPU seconds the hypervisor took during the runs.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from typing import Any


def median_summary(runs: Sequence[Mapping[str, Any]], **identity: Any) -> dict[str, Any]:
    """``{"bench": "<bench>-median", **identity, ...}`` over ``runs`` (their ``seconds``,
    ``peak_mb`` and ``steal_seconds``); ``identity`` names the configuration (store, engine)."""
    if not runs:
        raise ValueError("no runs to summarise")
    seconds = [float(r["seconds"]) for r in runs]
    steal = [r.get("steal_seconds") for r in runs]
    stolen = [float(x) for x in steal if x is not None]
    return {
        "bench": f"{runs[0]['bench']}-median",
        **identity,
        "runs": len(runs),
        "seconds": round(statistics.median(seconds), 3),
        "seconds_min": min(seconds),
        "seconds_max": max(seconds),
        "peak_mb": max(float(r["peak_mb"]) for r in runs),
        "steal_seconds": round(sum(stolen), 2) if len(stolen) == len(steal) else None,
    }
