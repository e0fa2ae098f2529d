"""The benches judge their targets on the median of repeated runs (bench/summary.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from summary import median_summary


def _run(seconds: float, peak: float, steal: float | None) -> dict[str, object]:
    return {"bench": "import", "seconds": seconds, "peak_mb": peak, "steal_seconds": steal}


def test_the_median_of_the_runs_with_their_range_and_highest_peak() -> None:
    runs = [_run(31.0, 900.0, 2.0), _run(27.5, 950.0, 0.5), _run(28.0, 910.0, 1.0)]
    summary = median_summary(runs, store="postgresql")
    assert summary["bench"] == "import-median"
    assert summary["store"] == "postgresql"
    assert summary["runs"] == 3
    assert summary["seconds"] == 28.0
    assert (summary["seconds_min"], summary["seconds_max"]) == (27.5, 31.0)
    assert summary["peak_mb"] == 950.0
    assert summary["steal_seconds"] == 3.5


def test_steal_unknown_when_a_run_could_not_read_it() -> None:
    summary = median_summary([_run(20.0, 800.0, 1.0), _run(22.0, 800.0, None)])
    assert summary["seconds"] == 21.0
    assert summary["steal_seconds"] is None


def test_no_runs_is_an_error() -> None:
    with pytest.raises(ValueError, match="no runs"):
        median_summary([])
