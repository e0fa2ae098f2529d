"""Checking the watches over the store, and listing them.

Flags are stored with their reason code, unique per watch, cycle and rule, so checking again
adds nothing. Each new flag's action (the policy's ``watch_actions``, ``cardpilot.watch.actions``)
is stored with it, in the same transaction, and a notice action queues its message in the
outbox there too. The watched accounts are checked in chunks (the chunked job loop): each chunk's
statements are read on a thread while the one before is checked, its flags stored in one
transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import polars as pl
import pyarrow as pa
from sqlalchemy import Engine

from cardpilot.batch.loop import ChunkSteps, StageClock, run_chunked
from cardpilot.notify.decision_notices import notices_from_rows, outbox_rows
from cardpilot.policy.schema import Policy
from cardpilot.store.watch_actions import store_flags_and_actions
from cardpilot.store.watches import (
    read_watches,
    watched_statements,
    watches_started_before,
)
from cardpilot.watch.actions import WATCH_NOTICE, notice_rows, watch_actions_frame
from cardpilot.watch.rules import watch_flags_frame

WATCHED_ACCOUNTS_PER_CHUNK = 10_000
# A notice action's messages are keyed by the action: ``watch_action:<id>``.
WATCH_ACTION_KIND = "watch_action"


def check_watches(
    db: Engine,
    policy: Policy,
    as_of: dt.date,
    *,
    chunk_accounts: int = WATCHED_ACCOUNTS_PER_CHUNK,
    notify: bool = True,
) -> int:
    """Check every statement up to ``as_of`` of every watch against the rules; store new flags
    and their actions (``notify``: queue the notices of notice actions). Returns the flags
    added (checking again adds nothing)."""
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

    def render(actions: pl.DataFrame) -> pa.Table | None:
        rows = notice_rows(actions, policy)
        return outbox_rows(
            db, notices_from_rows(rows, decision_kind=WATCH_ACTION_KIND, message_type=WATCH_NOTICE)
        )

    notices = render if notify else None
    added: list[int] = []
    steps = ChunkSteps(
        seen=lambda chunk: chunk[0]["account_id"].n_unique(),
        decide=flags_of,
        write=lambda flags, _before_commit: store_flags_and_actions(
            db, flags, watch_actions_frame(flags, policy), notices
        ),
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
