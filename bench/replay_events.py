"""The consumer's CPU time per event, in process and without the broker.

    python bench/replay_events.py [--events 20000] [--accounts 2000] [--batch 2000]
                                  [--store sqlite|postgresql] [--online-model] [--profile 25]
                                  [--in-flight 2]

A synthetic month (``events.synthetic``, with duplicates, swaps, held-back and malformed lines)
is handed batch by batch to the consumer's store side (``stream.consumer.Intake.submit``: parse,
order, ledger postings, receipts, features, the early-warning rules with the shipped
warning.yaml on accounts holding a score), as the consumer does after each fetch
(``--in-flight 2``: the next batch submitted while one is written, as the consumer holds them;
1, the default: one after the other). Prints one JSON
line: ``events``, ``cpu_s``, ``cpu_us_per_event``, ``wall_s``, ``interventions``,
``online_score_cpu_us_per_event`` (the online scoring's own share; null without
``--online-model``), ``model_trees`` and the intake's digests; with ``--profile N`` the N
functions of most cumulative time go to stderr. The CPU time is this process's own (SQLite
runs in it; PostgreSQL's server time is not counted).

``--online-model gbm|scorecard``: each account also gets six monthly statements before the
month, and the consumer scores every event's account with an early-warning model of that family
(``stream.online_scores``; fitted here on the store's own features with made-up labels, the
GBM with ``--model-trees`` trees, 1,500 by default, about the registered one's size: the cost
is what is measured, not the ranking) instead of reading the stored scores.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import datetime as dt
import io
import json
import os
import pstats
import sys
import tempfile
import time
from collections import deque
from concurrent.futures import Future
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from cardpilot.events.policy import load_events_policy
from cardpilot.events.synthetic import Faults, synthetic_month, with_faults
from cardpilot.store.events import intake_digests
from cardpilot.store.warning_interventions import insert_scores
from cardpilot.stream.batch_intake import BatchDone, Intake
from cardpilot.stream.consumer import batch_heap
from cardpilot.stream.online_scores import OnlineScorer
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


MONTHS_BEFORE = 6


def add_statements(engine: Engine, accounts: list[str]) -> None:
    """Six monthly statements per account before the synthetic month (deterministic)."""
    from cardpilot.store.models import Statement

    rows = []
    for n, a in enumerate(accounts):
        for m in range(MONTHS_BEFORE):
            cycle = dt.date(2026, 5 + m, 1)
            balance = 50_000 + (n * 7_919 + m * 31_337) % 600_000
            rows.append(
                {
                    "account_id": a,
                    "cycle_date": cycle,
                    "due_date": cycle + dt.timedelta(days=20),
                    "credit_limit_minor": 1_000_000,
                    "statement_balance_minor": balance,
                    "minimum_due_minor": balance // 10,
                    "amount_paid_minor": (balance // 10) * (1 + (n + m) % 4),
                    "repayment_status": 0,
                    "days_past_due": 0,
                }
            )
    with engine.begin() as conn:
        conn.execute(Statement.__table__.insert(), rows)


def online_model(engine: Engine, family: str, rounds: int) -> object:
    """An early-warning model on the store's features as of the month's start (made-up
    labels): a scorecard, or a GBM of ``rounds`` trees."""
    import numpy as np

    from cardpilot.scoring.features import CATEGORICAL_FEATURES
    from cardpilot.scoring.gbm import GbmParams, fit_gbm
    from cardpilot.store.frames import read_portfolio_frames
    from cardpilot.warning.features import WARNING_FEATURES, warning_features

    features = warning_features(read_portfolio_frames(engine), dt.date(2026, 11, 1))
    rng = np.random.default_rng(3)
    risk = features["utilisation_latest"].fill_null(0).to_numpy() + rng.normal(
        0, 0.2, features.height
    )
    y = (risk > np.quantile(risk, 0.8)).astype(np.int8)
    params = GbmParams(folds=2, n_seeds=1, min_child_samples=20, derived=(), exclude=())
    names = [
        c
        for c in WARNING_FEATURES
        if c not in CATEGORICAL_FEATURES and features[c].null_count() < features.height
    ]
    if family == "scorecard":
        from cardpilot.scoring.scorecard import fit_scorecard

        return fit_scorecard(features, y, names, version="warning-scorecard-replay")[0]
    model, _ = fit_gbm(features, y, names, params, version="warning-gbm-replay")
    # Made-up labels stop the rounds early; the registered model (seven leaves, about 500
    # rounds at the shipped learning rate, three seeds in one file) is far larger, and its
    # size is what a row's prediction costs: a booster of that size takes the fitted one's
    # place.
    import lightgbm as lgb

    settings = {"objective": "binary", "num_leaves": 7, "learning_rate": 0.05, "verbose": -1}
    settings |= {"min_data_in_leaf": 20, "seed": 7, "num_threads": 2}
    data = lgb.Dataset(features.select(model.features).to_numpy(), y)
    model.booster = lgb.train(settings, data, num_boost_round=rounds)
    return model


def _trees(scorer: OnlineScorer | None) -> int | None:
    booster = getattr(getattr(scorer, "model", None), "booster", None)
    return None if booster is None else int(booster.num_trees())


class TimedScorer(OnlineScorer):
    """The consumer's scorer, counting the CPU time its scoring takes."""

    cpu_s = 0.0

    def rescore(self, conn: Any, rows: Any) -> Any:
        started = time.process_time()
        try:
            return super().rescore(conn, rows)
        finally:
            self.cpu_s += time.process_time() - started

    def reasons_for(self, rows: Any) -> Any:
        started = time.process_time()
        try:
            return super().reasons_for(rows)
        finally:
            self.cpu_s += time.process_time() - started


def replay(
    engine: Engine,
    lines: list[bytes],
    batch: int,
    scorer: TimedScorer | None = None,
    default_gc: bool = False,
    in_flight: int = 1,
) -> dict[str, object]:
    intake = Intake(engine, load_events_policy(), TZ, load_warning_policy(), scorer)
    # The garbage collector as ``events consume`` runs it (``--default-gc``: Python's own).
    with contextlib.nullcontext() if default_gc else batch_heap():
        cpu, wall = time.process_time(), time.perf_counter()
        done: list[BatchDone] = []
        # Up to ``in_flight`` batches submitted at once, as the consumer holds them (1: each
        # batch planned and written before the next is handed over).
        waiting: deque[Future[BatchDone]] = deque()
        for start in range(0, len(lines), batch):
            if len(waiting) >= in_flight:
                done.append(waiting.popleft().result())
            waiting.append(intake.submit(lines[start : start + batch]))
        done.extend(future.result() for future in waiting)
        intake.close()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    with engine.connect() as conn:
        digests = intake_digests(conn)
    return {
        "events": len(lines),
        "batch": batch,
        "in_flight": in_flight,
        "cpu_s": round(cpu, 3),
        "cpu_us_per_event": round(cpu / len(lines) * 1e6, 1),
        "wall_s": round(wall, 3),
        "interventions": sum(d.triggers_fired for d in done),
        # Wall time of the intake's stages, over all batches (they overlap with --in-flight 2).
        "planning_s": round(sum(d.planning_s for d in done), 3),
        "writing_s": round(sum(d.writing_s for d in done), 3),
        "online_score_cpu_us_per_event": (
            None if scorer is None else round(scorer.cpu_s / len(lines) * 1e6, 1)
        ),
        "model_trees": _trees(scorer),
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
    parser.add_argument(
        "--online-model",
        choices=("gbm", "scorecard"),
        default=None,
        help="statements per account and a warning model of this family scoring online",
    )
    parser.add_argument(
        "--model-trees", type=int, default=1500, help="trees of the --online-model GBM"
    )
    parser.add_argument(
        "--in-flight",
        type=int,
        default=1,
        help="batches submitted at once (2: the next planned while one is written)",
    )
    parser.add_argument("--profile", type=int, default=0, help="print the top N functions")
    parser.add_argument(
        "--default-gc", action="store_true", help="Python's garbage collector settings"
    )
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
            scorer = None
            if args.online_model:
                add_statements(engine, accounts)
                scorer = TimedScorer(online_model(engine, args.online_model, args.model_trees))
            profile = cProfile.Profile(time.process_time) if args.profile else None
            if profile:
                profile.enable()
            result = replay(engine, lines, args.batch, scorer, args.default_gc, args.in_flight)
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
    head = {"store": args.store, "online_model": args.online_model, "polars_threads": threads}
    print(json.dumps({**head, **result}), flush=True)


if __name__ == "__main__":
    main()
