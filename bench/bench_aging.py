"""Aging + treatment benchmark (``make bench-aging``, issue #7 must-show).

    python bench/bench_aging.py [--accounts 1000000] [--threads 2]

1. A synthetic portfolio of ``--accounts`` accounts × 6 monthly cycles, no transactions
   (``cardpilot.synth.generate``), cached under ``bench/.cache/aging-<n>-m6/portfolio``; a
   complete cached portfolio of the limit-review benchmark with the same manifest (same
   generator, seed, months and end cycle) is reused instead of generating a second copy.
2. In a child process (so ``peak_mb`` is that process's own peak resident set, input frame
   included): the statement frame is read from Parquet and the ledger's payments derived from
   it as a statements-only import posts them, then the clock covers ``age_accounts`` on the
   last cycle date with those payments (the ledger decides days past due where it can), the
   unpaid minimum payments (the late fee's base), ``assign_treatments`` of every overdue
   account (the shipped policy), which assesses each account's penalty interest and late fee
   and the waived share, and the ledger postings of those decisions. The PD is a fixed
   stand-in column (a uniform value from a hash of the account id, squared so most PDs are
   low), not the scorer: the bench measures aging and the policy engine, the scorer has its
   own benchmark (``bench-models``).

Prints one JSON object (``bench, accounts, seconds, accounts_per_s, peak_mb`` and details) and
writes it with the machine to ``bench/results/aging.json``. Targets: ≤ 15 s and ≤ 2 GB on 2
cores for 1,000,000 accounts.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "bench" / ".cache"
RESULTS = ROOT / "bench" / "results" / "aging.json"
SEED = 20260101
MONTHS = 6
END_CYCLE = dt.date(2026, 9, 30)
AS_OF = END_CYCLE  # on the cycle date: 30 days past due is still M1 (low risk possible)
TARGET_SECONDS = 15.0
PEAK_MB_LIMIT = 2048


def peak_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    scale = 1024 * 1024 if sys.platform == "darwin" else 1024
    return round(own / scale, 1)


def _complete(folder: Path, accounts: int) -> bool:
    manifest = folder / "synth.json"
    if not manifest.exists():
        return False
    data = json.loads(manifest.read_text())
    return bool(
        data.get("complete")
        and data.get("accounts") == accounts
        and data.get("seed") == SEED
        and data.get("months") == MONTHS
        and data.get("end_cycle") == END_CYCLE.isoformat()
        and data.get("transactions") is False
    )


def portfolio(accounts: int) -> Path:
    from cardpilot.synth.generate import GenerateOptions, generate_portfolio

    own = CACHE / f"aging-{accounts}-m6" / "portfolio"
    if _complete(own, accounts):
        return own
    shared = CACHE / f"review-{accounts}-m6" / "portfolio"
    if _complete(shared, accounts):
        return shared
    print(f"generating {accounts:,} accounts × {MONTHS} cycles into {own}", file=sys.stderr)
    generate_portfolio(
        GenerateOptions(
            accounts=accounts,
            out=own,
            seed=SEED,
            months=MONTHS,
            transactions=False,
            end_cycle=END_CYCLE,
            overwrite=True,
        )
    )
    return own


def worker(folder: Path) -> dict[str, Any]:
    import time

    # Polars imports NumPy on the treatment's first call; the treat job has it loaded (through
    # the scorer) before it treats a chunk, so it is loaded here before the clock too.
    import numpy  # noqa: F401
    import polars as pl

    from cardpilot.overdue.aging import LedgerPayments, age_accounts_lazy
    from cardpilot.overdue.loading import load_overdue_policy
    from cardpilot.overdue.treatment import assign_treatments_lazy
    from cardpilot.overdue.treatment_postings import TREATMENT_CHARGES, treatment_postings
    from cardpilot.overdue.treatment_table import unpaid_minimum

    policy = load_overdue_policy()
    minor = pl.Int64
    statements = (
        pl.scan_parquet(str(folder / "statements" / "*.parquet"))
        .select(
            "account_id",
            "cycle_date",
            "due_date",
            (pl.col("statement_balance") * 100).cast(minor).alias("statement_balance_minor"),
            (pl.col("minimum_due") * 100).cast(minor).alias("minimum_due_minor"),
            (pl.col("amount_paid") * 100).cast(minor).alias("amount_paid_minor"),
            "days_past_due",
        )
        .collect()
    )
    rows = statements.height
    # The ledger's payments as a statements-only import derives them (store.ledger
    # statement_postings_sql): what each statement says was paid, on the previous due date;
    # the treat job reads them from the store with its chunk, so they are read before the clock.
    payments = (
        statements.sort("account_id", "cycle_date")
        .with_columns(pl.col("due_date").shift(1).over("account_id").alias("paid_on"))
        .filter(pl.col("paid_on").is_not_null() & (pl.col("amount_paid_minor") > 0))
        .select("account_id", "paid_on", pl.col("amount_paid_minor").alias("amount_minor"))
    )
    ledger = LedgerPayments(payments, END_CYCLE, AS_OF - dt.timedelta(days=62))
    started = time.perf_counter()
    cpu0 = time.process_time()
    snapshot = age_accounts_lazy(statements.lazy(), AS_OF, policy, ledger).collect()
    aged = time.perf_counter()
    # The stand-in PD: uniform in [0, 1) from a hash of the account id, squared.
    unit = (pl.col("account_id").hash(seed=7) % 1_000_000).cast(pl.Float64) / 1_000_000
    overdue = snapshot.filter(pl.col("days_past_due") > 0)
    # The late fee's base, as the treat job reads it (overdue.treatment_table.unpaid_minimum).
    unpaid = unpaid_minimum(statements.join(overdue.select("account_id"), on="account_id"), AS_OF)
    table = overdue.join(unpaid, on="account_id", how="left").with_columns(
        (unit * unit).alias("pd"), pl.lit(0, pl.Int32).alias("broken_promises")
    )
    treated = assign_treatments_lazy(table, policy, AS_OF).collect()
    treated_at = time.perf_counter()
    # What the treat job posts to the ledger for these decisions (its charges, waivers and
    # limit actions; the decision ids stand in as row numbers).
    postings = treatment_postings(
        treated.with_row_index("id", offset=1)
        .with_columns(
            pl.col("id").cast(pl.Int64),
            pl.lit(AS_OF).alias("as_of"),
            pl.lit(policy.file.currency).alias("currency"),
            pl.lit(0, pl.Int64).alias("old_limit_minor"),
            pl.lit(0, pl.Int64).alias("new_limit_minor"),
        )
        .select(list(TREATMENT_CHARGES)),
        "Asia/Shanghai",
    )
    done = time.perf_counter()
    cpu = time.process_time() - cpu0
    seconds = done - started
    accounts = snapshot.height
    segments = dict(treated.group_by("risk_segment").len().sort("risk_segment").iter_rows())
    return {
        "bench": "aging+treatment",
        "accounts": accounts,
        "seconds": round(seconds, 3),
        "accounts_per_s": round(accounts / seconds),
        "peak_mb": peak_mb(),
        "statement_rows": rows,
        "ledger_payment_rows": payments.height,
        "overdue_accounts": treated.height,
        "aging_seconds": round(aged - started, 3),
        "treatment_seconds": round(treated_at - aged, 3),
        "ledger_postings_seconds": round(done - treated_at, 3),
        # The ledger rows the treatment adds and their size in memory (Arrow); the portfolio's
        # ledger on disk is the review bench's (``ledger_rows``, ``ledger_mb`` of its store).
        "ledger_rows": postings.height,
        "ledger_mb": round(postings.estimated_size() / 2**20, 1),
        "cpu_seconds": round(cpu, 3),
        "segments": segments,
        "charged_minor": int(
            treated["penalty_interest_minor"].sum() + treated["late_fee_minor"].sum()
        ),
        "waived_minor": int(treated["fee_waived_minor"].sum()),
        "pd_source": "stand-in: (hash(account_id) mod 1e6 / 1e6)^2, not the scorer",
        "as_of": AS_OF.isoformat(),
        "threads": int(os.environ.get("POLARS_MAX_THREADS", "0")) or None,
        "target_seconds": TARGET_SECONDS,
        "peak_mb_limit": PEAK_MB_LIMIT,
        "within_targets": seconds <= TARGET_SECONDS and peak_mb() <= PEAK_MB_LIMIT,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--threads", type=int, default=2, help="POLARS_MAX_THREADS of the child")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        print(json.dumps(worker(args.worker)))
        return 0
    folder = portfolio(args.accounts)
    env = {**os.environ, "POLARS_MAX_THREADS": str(args.threads)}
    child = subprocess.run(
        [sys.executable, __file__, "--worker", str(folder)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    result = json.loads(child.stdout.strip().splitlines()[-1])
    print(json.dumps(result))
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "results": [result],
                "machine": {
                    "python": platform.python_version(),
                    "platform": platform.platform(),
                    "cpus": os.cpu_count(),
                    "load_average": [round(x, 2) for x in load] if load else None,
                },
                "command": f"python bench/bench_aging.py --accounts {args.accounts}",
                "when": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
            },
            indent=2,
        )
        + "\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
