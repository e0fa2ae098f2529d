"""The consumer's CPU time per event, in process and without the broker.

    python bench/replay_events.py [--events 20000] [--accounts 2000] [--batch 2000]
                                  [--store sqlite|postgresql] [--profile 25]

A synthetic month (``events.synthetic``, with duplicates, swaps, held-back and malformed lines)
is handed batch by batch to the consumer's store side (``stream.consumer.Intake.process``: parse,
order, ledger postings, receipts, features, the early-warning rules with the shipped
warning.yaml on accounts holding a score), as the consumer does after each fetch. Prints one JSON
line: ``events``, ``cpu_s``, ``cpu_us_per_event``, ``wall_s``, ``interventions`` and the intake's
digests; with ``--profile N`` the N functions of most cumulative time go to stderr. The CPU
time is this process's own (SQLite runs in it; PostgreSQL's server time is not counted).
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import json
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from cardpilot.events.policy import load_events_policy
from cardpilot.events.synthetic import Faults, synthetic_month, with_faults
from cardpilot.store.events import intake_digests
from cardpilot.store.warning_interventions import insert_scores
from cardpilot.stream.consumer import Intake
from cardpilot.warning.policy import load_warning_policy
from event_stores import account_store, create_pg_database, drop_pg_database

TZ = ZoneInfo("Asia/Shanghai")


def replay_store(url: str, accounts: list[str], high_every: int = 10) -> Engine:
    """A migrated store holding ``accounts``, each with an early-warning score of the day
    before the month (every ``high_every``-th one high, so the online rules have something to
    fire; 0: no scores, as ``make bench-events`` has)."""
    engine = account_store(url, accounts)
    if not high_every:
        return engine
    scores = [
        {
            "account_id": a,
            "as_of": dt.date(2026, 10, 31),
            "customer_id": f"C{a}",
            "score": 0.6 if n % high_every == 0 else 0.1,
            "score_change": 0.15 if n % (2 * high_every) == 0 else 0.0,
            "reason_codes": ["RC_EW_PAYMENT_DROP"],
            "model_version": "replay",
            "policy_version": "replay",
        }
        for n, a in enumerate(accounts)
    ]
    with engine.begin() as conn:
        insert_scores(conn, scores)
    return engine


def replay_lines(accounts: list[str], events: int) -> list[bytes]:
    per_account = max(2, events // len(accounts))
    month = synthetic_month(accounts, events_per_account=per_account, seed=3)
    return with_faults(month, Faults(duplicates=0.01, swaps=0.02, held_back=5, malformed=3))


def replay(engine: Engine, lines: list[bytes], batch: int) -> dict[str, object]:
    intake = Intake(engine, load_events_policy(), TZ, load_warning_policy())
    cpu, wall = time.process_time(), time.perf_counter()
    fired = 0
    for start in range(0, len(lines), batch):
        fired += intake.process(lines[start : start + batch]).triggers_fired
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    with engine.connect() as conn:
        digests = intake_digests(conn)
    return {
        "events": len(lines),
        "batch": batch,
        "cpu_s": round(cpu, 3),
        "cpu_us_per_event": round(cpu / len(lines) * 1e6, 1),
        "wall_s": round(wall, 3),
        "interventions": fired,
        "digests": digests,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--accounts", type=int, default=2_000)
    parser.add_argument("--batch", type=int, default=2_000)
    parser.add_argument("--store", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument(
        "--high-every", type=int, default=10, help="every Nth account scores high (0: no scores)"
    )
    parser.add_argument("--profile", type=int, default=0, help="print the top N functions")
    args = parser.parse_args()
    accounts = [f"B{i:07d}" for i in range(1, args.accounts + 1)]
    lines = replay_lines(accounts, args.events)
    with tempfile.TemporaryDirectory(prefix="replay-events-") as tmp:
        pg_name = None
        if args.store == "sqlite":
            url = f"sqlite:///{Path(tmp) / 'replay.db'}"
        else:
            url, pg_name = create_pg_database("replay_events")
        try:
            engine = replay_store(url, accounts, args.high_every)
            profile = cProfile.Profile(time.process_time) if args.profile else None
            if profile:
                profile.enable()
            result = replay(engine, lines, args.batch)
            if profile:
                profile.disable()
                text = io.StringIO()
                pstats.Stats(profile, stream=text).sort_stats("cumulative").print_stats(
                    args.profile
                )
                print(text.getvalue(), file=sys.stderr)
            engine.dispose()
        finally:
            if pg_name:
                drop_pg_database(pg_name)
    threads = os.environ.get("POLARS_MAX_THREADS")
    print(json.dumps({"store": args.store, "polars_threads": threads, **result}), flush=True)


if __name__ == "__main__":
    main()
