"""Review benchmark (``make bench-review``): the periodic limit review end to end.

    python bench/bench_review.py [--accounts 1000000] [--engines local,spark]
                                 [--stores sqlite,postgresql] [--model DIR] [--chunk-rows N]
                                 [--runs 3] [--cache DIR]

1. A synthetic portfolio of ``--accounts`` accounts with 6 statements each and no transactions
   (``cardpilot generate --no-transactions --months 6``), cached under ``bench/.cache/`` (or
   ``--cache DIR``); it, the SQLite store, the model and the calibration are
   ``bench/portfolio.py``'s, shared with ``bench-simulate`` and ``bench-api``.
2. It is imported once per store kind and cached (SQLite: a file; PostgreSQL: a template
   database ``cardpilot_bench_review_<accounts>`` on ``CARDPILOT_BENCH_POSTGRES_URL``).
3. The default policy's score cut-offs are calibrated to the model (``GRADE_SHARES`` of the
   scores of the store's first ``CALIBRATION_ACCOUNTS`` accounts, as the demo calibrates on its
   training split), so that the review grades, increases, decreases and watches a realistic
   mix; the policy goes to each run as ``policy.json`` beside the portfolio.
4. Each run reviews a fresh copy of that store in a child process: read accounts and
   statements from the store in account-id chunks → behaviour features → score (the scorecard
   of ``--model DIR``; default: trained once on the UCI file into ``bench/.cache/models``) →
   grade, segment, decide, reasons → persist decisions, limit history, account updates and
   watches. The clock covers ``review_portfolio`` only; ``peak_mb`` is the child's peak RSS,
   ``helpers_peak_mb`` the largest of the review's own helper processes (SQLite's ADBC reader
   and writer); Spark's JVM is a separate process, reported as ``jvm_peak_mb`` when measurable.

Each engine reviews ``--runs`` times, the engines taking turns. Prints one JSON object per run,
then a ``review-median`` object per store and engine (the median of its runs, which the target
and Spark's ratio to the local engine are judged by), and writes them to
``bench/results/review.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import time
from pathlib import Path
from typing import Any

from machine import (  # bench/ is the script's own folder, first on sys.path
    child_json,
    cpu_seconds,
    environment,
    peak_mb,
    speed_probe,
    steal_seconds,
    steal_since,
)
from portfolio import (
    AS_OF,
    CACHE,
    ROOT,
    bench_model,
    calibrated_policy,
    portfolio,
    sqlite_store,
)
from summary import median_summary

RESULTS = ROOT / "bench" / "results" / "review.json"
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
TARGETS = {1_000_000: (20.0, 3072.0), 10_000_000: (240.0, 6144.0)}  # seconds, peak MB


# --- the child: one review run --------------------------------------------------------------


def worker_review(
    url: str, model: str, engine: str, chunk_rows: int, policy_file: str
) -> dict[str, Any]:
    from cardpilot.jobs.review import review_portfolio
    from cardpilot.policy.loading import policy_from_data
    from cardpilot.scoring.registry import load_model_dir

    scorer = load_model_dir(model)
    documents = json.loads(Path(policy_file).read_text())
    policy = policy_from_data(documents["limits"], documents["reasons"])
    spark = None
    if engine == "spark":
        from cardpilot.engines.spark import local_spark_session

        spark = local_spark_session("local[2]", "cardpilot-bench", driver_memory="4g")
        spark.range(1).count()  # JVM start-up is not part of the review
    started = time.perf_counter()
    cpu_before = cpu_seconds()
    # The review steps end at persist; notices are measured by bench-notify.
    result = review_portfolio(
        url,
        scorer,
        policy=policy,
        as_of=AS_OF,
        engine=engine,
        chunk_rows=chunk_rows,
        spark=spark,
        notify=False,
    )
    seconds = time.perf_counter() - started
    from cardpilot.store.db import make_engine
    from cardpilot.store.ledger import ledger_footprint

    db = make_engine(url)
    try:
        ledger_rows, ledger_bytes = ledger_footprint(db)
    finally:
        db.dispose()
    return {
        "policy_version": policy.version,
        # The store's ledger beside the review (the review reads none of it): its rows and
        # bytes on disk, indexes included.
        "ledger_rows": ledger_rows,
        "ledger_mb": None if ledger_bytes is None else round(ledger_bytes / 2**20, 1),
        "decided": result.decided,
        "seconds": round(seconds, 3),
        "accounts_per_s": round(result.decided / seconds),
        "peak_mb": peak_mb(),
        # SQLite: the review's ADBC reader and writer run as helper processes (docs/review.md);
        # the largest of them (RUSAGE_CHILDREN); the review's total is at most peak + 2 × this.
        "helpers_peak_mb": peak_mb(resource.RUSAGE_CHILDREN),
        "by_action": result.by_action,
        "by_grade": result.by_grade,
        "by_segment": result.by_segment,
        "watched": result.watched,
        "stage_seconds": result.stage_seconds,
        # The review's own process during the review; its helper processes (SQLite: the
        # reader and the writer) in all.
        "cpu_seconds": {
            "review": round(cpu_seconds() - cpu_before, 2),
            "helpers": round(cpu_seconds(resource.RUSAGE_CHILDREN), 2),
        },
    }


# --- the parent ---------------------------------------------------------------------------


def _remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _sync(path: Path) -> None:
    """Flush a fresh copy of the store to disk before the clock starts: a bank's store is
    not 1.7 GB of unwritten pages, and the review's first commit would otherwise pay for
    writing the whole copy out (its checkpoint syncs the file)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _libpq(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _postgres_url(database: str) -> str:
    """The URL of ``database`` on the bench's PostgreSQL server."""
    from sqlalchemy.engine import make_url

    admin = os.environ.get("CARDPILOT_BENCH_POSTGRES_URL", DEFAULT_POSTGRES)
    url = make_url(admin).set(drivername="postgresql+psycopg", database=database)
    return url.render_as_string(hide_password=False)


def _postgres_template(accounts: int, folder: Path) -> str:
    import psycopg

    from cardpilot.config import Settings
    from cardpilot.jobs.importing import import_portfolio
    from cardpilot.store.db import open_store

    admin = os.environ.get("CARDPILOT_BENCH_POSTGRES_URL", DEFAULT_POSTGRES)
    name = f"cardpilot_bench_review_{accounts}"
    rendered = _postgres_url(name)
    with psycopg.connect(_libpq(admin), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    if not exists:
        import_portfolio(
            folder,
            layout="generic",
            database_url=rendered,
            settings=Settings(home=folder.parent / "home"),
        )
    open_store(rendered).dispose()
    return name


def _postgres_copy(template: str) -> str:
    import psycopg

    admin = os.environ.get("CARDPILOT_BENCH_POSTGRES_URL", DEFAULT_POSTGRES)
    name = "cardpilot_bench_review_run"
    with psycopg.connect(_libpq(admin), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return _postgres_url(name)


def _write(lines: list[dict[str, Any]], accounts: int) -> None:
    """Results so far (a later run of the same size, engine, store and chunk replaces the
    earlier one's line)."""
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    previous: list[dict[str, Any]] = []
    if RESULTS.exists():
        fresh = {(r["accounts"], r["engine"], r["store"], r["chunk_rows"]) for r in lines}
        previous = [
            r
            for r in json.loads(RESULTS.read_text()).get("results", [])
            if (r.get("accounts"), r.get("engine"), r.get("store"), r.get("chunk_rows"))
            not in fresh
        ]
    payload = {"environment": environment(), "results": previous + lines}
    RESULTS.write_text(json.dumps(payload, indent=1) + "\n")


def _review_once(
    store: str,
    cached: Path,
    template: str,
    model: str,
    policy: Path,
    engine: str,
    args: argparse.Namespace,
) -> dict[str, Any]:
    """One review of a fresh copy of the cached store, in a child process."""
    if store == "sqlite":
        run_copy = cached.with_name("run.db")
        _remove_sqlite(run_copy)  # a stale -wal would replay an old run onto the copy
        shutil.copy(cached, run_copy)
        _sync(run_copy)
        url = f"sqlite:///{run_copy}"
    else:
        url = _postgres_copy(template)
    speed_before = speed_probe()
    steal_before = steal_seconds()
    try:
        figures = child_json(__file__, url, model, engine, str(args.chunk_rows), str(policy))
    finally:
        if store == "sqlite":
            _remove_sqlite(Path(url.removeprefix("sqlite:///")))
    stolen = steal_since(steal_before)
    return {
        "bench": "review",
        "engine": engine,
        "store": store,
        "accounts": args.accounts,
        "statements": args.accounts * 6,
        "chunk_rows": args.chunk_rows,
        **figures,
        # The machine's speed around the run (bench/machine.py): figures measured at
        # different speeds do not compare.
        "machine_speed": {"before": speed_before, "after": speed_probe()},
        # CPU seconds the hypervisor took from this machine's cores during the run.
        "steal_seconds": stolen,
    }


def _judge(line: dict[str, Any], accounts: int) -> None:
    """The issue's targets, for the local engine's runs and their median."""
    target = TARGETS.get(accounts)
    if target and line["engine"] == "local":
        line["target_seconds"], line["target_peak_mb"] = target
        line["meets_target"] = line["seconds"] <= target[0] and line["peak_mb"] <= target[1]


def _report(line: dict[str, Any], lines: list[dict[str, Any]], args: argparse.Namespace) -> None:
    lines.append(line)
    print(json.dumps(line), flush=True)
    if not args.no_write:
        _write(lines, args.accounts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--engines", default="local,spark")
    parser.add_argument("--stores", default="sqlite")
    parser.add_argument("--model", default=None)
    parser.add_argument(
        "--cache", default=str(CACHE), help="Folder of the cached portfolio, stores and model."
    )
    parser.add_argument("--chunk-rows", type=int, default=100_000)
    parser.add_argument(
        "--child", nargs=5, metavar=("URL", "MODEL", "ENGINE", "CHUNK", "POLICY_JSON")
    )
    parser.add_argument("--no-write", action="store_true", help="Do not write the results file.")
    parser.add_argument(
        "--runs", type=int, default=3, help="Reviews per engine; targets use the median."
    )
    parser.add_argument(
        "--local-seconds", type=float, default=None, help="Local time for the Spark ratio."
    )
    args = parser.parse_args(argv)
    if args.child:
        url, model, engine, chunk, policy_file = args.child
        print(json.dumps(worker_review(url, model, engine, int(chunk), policy_file)), flush=True)
        return 0

    cache = Path(args.cache)
    folder = portfolio(args.accounts, cache)
    model = bench_model(args.model, cache)
    lines: list[dict[str, Any]] = []
    local_seconds: dict[str, float] = {}
    for store in [s.strip() for s in args.stores.split(",") if s.strip()]:
        cached, template = Path(), ""
        if store == "sqlite":
            cached = sqlite_store(args.accounts, folder, cache)
            source = f"sqlite:///{cached}"
        elif store == "postgresql":
            template = _postgres_template(args.accounts, folder)
            source = _postgres_url(template)
        else:
            raise SystemExit(f"unknown store {store!r}; use sqlite or postgresql")
        policy = calibrated_policy(source, model, folder.parent)
        engines = [e.strip() for e in args.engines.split(",") if e.strip()]
        done: dict[str, list[dict[str, Any]]] = {engine: [] for engine in engines}
        for run in range(1, args.runs + 1):
            for engine in engines:
                line = _review_once(store, cached, template, model, policy, engine, args)
                line["run"] = run
                _judge(line, args.accounts)
                done[engine].append(line)
                _report(line, lines, args)
        for engine, runs in done.items():
            summary = median_summary(
                runs, store=store, engine=engine, accounts=args.accounts, chunk_rows=args.chunk_rows
            )
            summary["accounts_per_s"] = round(args.accounts / summary["seconds"])
            summary["helpers_peak_mb"] = max(float(r["helpers_peak_mb"]) for r in runs)
            _judge(summary, args.accounts)
            if engine == "local":
                local_seconds[store] = summary["seconds"]
            elif store in local_seconds or args.local_seconds:
                local = local_seconds.get(store) or args.local_seconds
                summary["ratio_to_local"] = round(summary["seconds"] / local, 2)
            if "meets_target" in summary:
                summary["runs_meeting_target"] = sum(1 for r in runs if r["meets_target"])
            _report(summary, lines, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
