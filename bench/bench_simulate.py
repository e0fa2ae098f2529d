"""Simulation benchmark (``make bench-simulate``): two limit policies priced on 1M accounts.

    python bench/bench_simulate.py [--accounts 1000000] [--model DIR] [--chunk-rows N]
                                   [--runs 1] [--no-write] [--cache DIR]

1. The synthetic portfolio and SQLite store of ``bench-review`` (``bench/portfolio.py``:
   6 statements per account, cached under ``bench/.cache/`` or ``--cache DIR``); the store is
   only read.
2. The default policy with its score cut-offs calibrated to the model as ``bench-review`` does
   (``portfolio.calibrated_policy``, written to a temporary folder), and a copy of it whose
   increase ranges are 10 points higher.
3. Each run, in a child process: ``simulate_portfolio`` of the calibrated policy against the
   copy (read the accounts and statements in chunks → features → score → both policies'
   decisions → figures, and the back-test on the store's labels); nothing is written, so every
   run reads the same store. ``seconds`` covers ``simulate_portfolio``; ``peak_mb`` is the
   child's peak RSS, ``helpers_peak_mb`` its chunk reader's (a helper process on SQLite).

The model is the frozen UCI scorecard of the tests (``tests/fixtures/models/uci-scorecard``)
unless ``--model`` names another. Prints one JSON object per run (``bench``, ``accounts``,
``seconds``, ``peak_mb``, ...) and writes them to ``bench/results/simulate.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

from machine import (  # bench/ is the script's own folder, first on sys.path
    child_json,
    cpu_seconds,
    environment,
    peak_mb,
    speed_probe,
)
from portfolio import AS_OF, CACHE, ROOT, calibrated_policy, portfolio, sqlite_store

RESULTS = ROOT / "bench" / "results" / "simulate.json"
MODEL = ROOT / "tests" / "fixtures" / "models" / "uci-scorecard"
TARGETS = {1_000_000: (30.0, 3072.0)}  # seconds, peak MB
RAISED_POINTS = 10


def _raised(limits: dict[str, Any]) -> dict[str, Any]:
    """The limit policy document with every increase range ``RAISED_POINTS`` higher."""
    out = json.loads(json.dumps(limits))
    for grade in out["grades"]:
        band = grade.get("increase_pct")
        if band:
            band["min"] = min(100, float(band["min"]) + RAISED_POINTS)
            band["max"] = min(100, float(band["max"]) + RAISED_POINTS)
    out["version"] = f"{out['version']}-plus{RAISED_POINTS}"
    return out


def worker_simulate(url: str, model: str, chunk_rows: int, policy_file: str) -> dict[str, Any]:
    from cardpilot.jobs.simulate import NamedPolicy, simulate_portfolio
    from cardpilot.policy.assumptions import load_assumptions
    from cardpilot.policy.loading import policy_from_data
    from cardpilot.scoring.registry import load_model_dir

    scorer = load_model_dir(model)
    documents = json.loads(Path(policy_file).read_text())
    policy = policy_from_data(documents["limits"], documents["reasons"])
    against = policy_from_data(_raised(documents["limits"]), documents["reasons"])
    started = time.perf_counter()
    cpu_before = cpu_seconds()
    result = simulate_portfolio(
        url,
        scorer,
        NamedPolicy("calibrated", policy),
        load_assumptions(),
        against=NamedPolicy(f"calibrated+{RAISED_POINTS}", against),
        as_of=AS_OF,
        chunk_rows=chunk_rows,
    )
    seconds = time.perf_counter() - started
    total = result.policy.total()
    return {
        "seconds": round(seconds, 3),
        "peak_mb": peak_mb(),
        "helpers_peak_mb": peak_mb(resource.RUSAGE_CHILDREN),
        "simulated": total["accounts"],
        "changed": {"policy": total["changed"], "against": result.against.total()["changed"]},
        "backtest_grades": len(result.backtest),
        "stage_seconds": result.stage_seconds,
        # The process's CPU seconds during each stage but the read (waiting for a chunk).
        "stage_cpu_seconds": result.stage_cpu_seconds,
        "cpu_seconds": {
            "simulation": round(cpu_seconds() - cpu_before, 2),
            "helpers": round(cpu_seconds(resource.RUSAGE_CHILDREN), 2),
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--model", default=str(MODEL))
    parser.add_argument("--chunk-rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--child", nargs=4, metavar=("URL", "MODEL", "CHUNK", "POLICY_JSON"))
    parser.add_argument("--no-write", action="store_true", help="Do not write the results file.")
    parser.add_argument(
        "--cache", default=str(CACHE), help="Folder of the cached portfolio and store."
    )
    args = parser.parse_args(argv)
    if args.child:
        url, model, chunk, policy_file = args.child
        print(json.dumps(worker_simulate(url, model, int(chunk), policy_file)), flush=True)
        return 0
    cache = Path(args.cache)
    store = sqlite_store(args.accounts, portfolio(args.accounts, cache), cache)
    url = f"sqlite:///{store}"
    with tempfile.TemporaryDirectory(prefix="bench-simulate-") as work:
        policy = calibrated_policy(url, args.model, Path(work))
        lines = _runs(url, policy, args)
    if not args.no_write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        payload = {"environment": environment(), "results": lines}
        RESULTS.write_text(json.dumps(payload, indent=1) + "\n")
    return 0


def _runs(url: str, policy: Path, args: argparse.Namespace) -> list[dict[str, Any]]:
    lines = []
    for run in range(1, args.runs + 1):
        speed_before = speed_probe()
        figures = child_json(__file__, url, args.model, str(args.chunk_rows), str(policy))
        line = {
            "bench": "simulate",
            "accounts": args.accounts,
            "policies": 2,
            "chunk_rows": args.chunk_rows,
            "run": run,
            **figures,
            "machine_speed": {"before": speed_before, "after": speed_probe()},
            "load_average_1m": round(os.getloadavg()[0], 2),
        }
        target = TARGETS.get(args.accounts)
        if target:
            line["target_seconds"], line["target_peak_mb"] = target
            line["meets_target"] = line["seconds"] <= target[0] and line["peak_mb"] <= target[1]
        lines.append(line)
        print(json.dumps(line), flush=True)
    return lines


if __name__ == "__main__":
    raise SystemExit(main())
