"""Checking the watches over the store, and listing them.

Flags are stored with their reason code, unique per watch, cycle and rule, so checking again
adds nothing. The watched accounts are checked in chunks (the chunked job loop): each chunk's
statements are read on a thread while the one before is checked, its flags stored in one
transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import polars as pl
from sqlalchemy import Engine

from cardpilot.batch.loop import ChunkSteps, StageClock, run_chunked
from cardpilot.policy.schema import Policy
from cardpilot.store.watches import (
    insert_watch_flags,
    read_watches,
    watched_statements,
    watches_started_before,
)
from cardpilot.watch.rules import watch_flags_frame

WATCHED_ACCOUNTS_PER_CHUNK = 10_000


def check_watches(
    db: Engine,
    policy: Policy,
    as_of: dt.date,
    *,
    chunk_accounts: int = WATCHED_ACCOUNTS_PER_CHUNK,
) -> int:
    """Check every statement up to ``as_of`` of every watch against the rules; store new flags.
    Returns the flags added (checking again adds nothing)."""
    watches = watches_started_before(db, as_of)
    if watches.height == 0:
        return 0
    first = watches["started_on"].min()
    assert isinstance(first, dt.date)
    since = dt.date(first.year - 1, first.month, 1)  # the pre-watch baseline (six cycles)
    accounts = watches["account_id"].unique().sort().to_list()

    def chunks() -> Iterator[tuple[pl.DataFrame, pl.DataFrame]]:
        for start in range(0, len(accounts), chunk_accounts):
            ids = accounts[start : start + chunk_accounts]
            chunk = watches.filter(pl.col("account_id").is_in(ids))
            yield chunk, watched_statements(db, ids, since, as_of)

    def flags_of(chunk: tuple[pl.DataFrame, pl.DataFrame], _: StageClock) -> pl.DataFrame | None:
        flags = watch_flags_frame(chunk[0], chunk[1], policy)
        return flags if flags.height else None

    added: list[int] = []
    steps = ChunkSteps(
        seen=lambda chunk: chunk[0]["account_id"].n_unique(),
        decide=flags_of,
        write=lambda flags, _before_commit: insert_watch_flags(db, flags),
        collect=lambda _flags, n: added.append(n),
    )
    run_chunked(chunks(), steps, clock=StageClock(), total=len(accounts))
    return sum(added)


def watch_list(db: Engine, policy: Policy | None = None, locale: str = "zh-CN") -> pl.DataFrame:
    """Every watch with its flags (one row per watch; flags as lists), newest first."""
    watches, flags = read_watches(db)
    texts: dict[str, str] = {}
    if policy is not None:
        texts = {code: t.text(locale) for code, t in policy.reasons.reasons.items()}
    flags = flags.with_columns(
        pl.col("reason_code")
        .replace_strict(texts, default=pl.col("reason_code"), return_dtype=pl.String)
        .alias("reason_text")
    )
    per_watch = flags.group_by("watch_id").agg(
        pl.len().alias("flags"),
        pl.col("cycle_date").max().alias("last_flag_on"),
        pl.col("reason_code").unique(maintain_order=True).alias("reason_codes"),
        pl.col("reason_text").unique(maintain_order=True).alias("reason_texts"),
    )
    return (
        watches.join(per_watch, on="watch_id", how="left")
        .with_columns(pl.col("flags").fill_null(0))
        .sort(["flags", "watch_id"], descending=[True, False])
    )
