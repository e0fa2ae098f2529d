"""The portfolio in chunks of accounts, with the statements a batch job needs for each.

Accounts are read in account-id order (keyset paging), ``chunk_rows`` at a time, with only the
statements of the window the behaviour features read, so memory stays bounded by the chunk.
An account is left out of a chunk's pending accounts when it was decided in the review cycle
already, or when no statement has arrived since its last decision (nothing new to decide on):
one set-based query per chunk, the accounts' last decisions joined to their newer statements
(:data:`STANDING`). An early review raised by a watch flag lets an account decided in the cycle
be decided once more (its pending accounts have ``early_review`` true), and a hold on increases
comes with its end (``increase_hold_until``).
How the queries reach the store (SQLAlchemy, ADBC, or a helper process on SQLite) is the
caller's :data:`~cardpilot.store.frame_reads.Fetch`; see ``cardpilot.store.review_backend``.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import polars as pl

from cardpilot.domain.plans import add_months
from cardpilot.domain.portfolio import STATEMENT_SCHEMA
from cardpilot.store.frame_reads import Fetch
from cardpilot.store.watch_actions import EARLY_REVIEW_PENDING, HOLDS_IN_RANGE

DEFAULT_CHUNK_ROWS = 100_000
REVIEWED_STATUSES = ("active", "frozen")  # closed and charged-off accounts are not reviewed
# A cycle id no review writes (reviews write "YYYY-H1" and the like): reading with it skips no
# account, whatever its decisions (scoring the whole portfolio).
NO_CYCLE = "-"
# Why a reviewed account of a chunk decided before is, or is not, decided again.
WITHIN_CYCLE = "within_cycle"  # decided in this review cycle already: not again
NO_NEW_EVIDENCE = "no_new_evidence"  # no statement dated after its last decision: not again
# Decided in this cycle, but a watch flag on a later statement asked for an early review: decided
# again, once, under the cycle id with EARLY_SUFFIX.
EARLY = "early_review"
EARLY_SUFFIX = "-early"

# The chunk's accounts decided before that a review may not decide, or decides early, and why:
# the last decision of each (the unique (account_id, cycle_id) index over the account range),
# and whether a statement dated after that decision's as-of date and up to this review's has
# arrived since, or an early review was raised on one.
STANDING = (
    f"SELECT l.account_id, CASE WHEN l.in_cycle = 1 AND {EARLY_REVIEW_PENDING}"
    f" THEN '{EARLY}' WHEN l.in_cycle = 1 THEN '{WITHIN_CYCLE}' ELSE '{NO_NEW_EVIDENCE}' END"
    " FROM (SELECT account_id, MAX(CASE WHEN cycle_id = :cycle THEN 1 ELSE 0 END) AS in_cycle,"
    " MAX(as_of) AS last_on FROM limit_decisions WHERE account_id BETWEEN :lo AND :hi"
    " GROUP BY account_id) l"
    " WHERE l.in_cycle = 1 OR NOT EXISTS (SELECT 1 FROM statements s"
    " WHERE s.account_id = l.account_id AND s.cycle_date > l.last_on"
    " AND s.cycle_date <= :as_of)"
)
_STANDING_COLUMNS: dict[str, pl.DataType] = {"account_id": pl.String(), "why": pl.String()}
_HOLDS: dict[str, pl.DataType] = {"account_id": pl.String(), "increase_hold_until": pl.Date()}

ACCOUNT_COLUMNS: dict[str, pl.DataType] = {
    "account_id": pl.String(),
    "customer_id": pl.String(),
    "credit_limit_minor": pl.Int64(),
    "open_date": pl.Date(),
    "status": pl.String(),
    "currency": pl.String(),
    "last_review_on": pl.Date(),
    "birth_year": pl.Int32(),
    "education": pl.String(),
    "annual_income_minor": pl.Int64(),
}
# The statement frame of docs/CONTRACTS.md without the due date, which no batch job reads.
STATEMENT_COLUMNS: dict[str, pl.DataType] = {
    name: dtype for name, dtype in STATEMENT_SCHEMA.items() if name != "due_date"
}
# What the review reads of a statement: the behaviour features' columns (``minimum_due`` is
# not one of them; the watch rules read it themselves).
REVIEW_STATEMENT_COLUMNS: dict[str, pl.DataType] = {
    name: dtype for name, dtype in STATEMENT_COLUMNS.items() if name != "minimum_due_minor"
}
_LIMIT_CHANGES: dict[str, pl.DataType] = {
    "account_id": pl.String(),
    "last_limit_change_on": pl.Date(),
}


@dataclass(frozen=True)
class ChunkFrames:
    """The three frames of docs/CONTRACTS.md for one chunk (what ``behaviour_features`` reads)."""

    statements: pl.DataFrame
    accounts: pl.DataFrame
    customers: pl.DataFrame


@dataclass
class AccountChunk:
    """One chunk of accounts: the range ``[first, last]`` in account-id order."""

    first: str
    last: str
    accounts: pl.DataFrame  # accounts to decide (reviewed status, eligible: see the module)
    frames: ChunkFrames
    skipped: int  # accounts of the range not to decide
    seen: int  # accounts of the range
    # Of the skipped accounts of a reviewed status: decided in the cycle already, and without a
    # statement newer than their last decision.
    skipped_within_cycle: int = 0
    skipped_no_new_evidence: int = 0


# Chunks of at least this many accounts ramp up at the start (a quarter, then a half of the
# chunk size) and down at the end (a half, then a quarter): nothing else can run while the
# first chunk is read, nor while the last one is written.
RAMP_FROM_ROWS = 20_000


def chunk_sizes(chunk_rows: int, total: int | None = None) -> Iterator[int]:
    """The sizes of the chunks, in order: ``chunk_rows`` each, ramped (``RAMP_FROM_ROWS``)
    when the chunks are large; ``total``: the accounts expected (the sizes go on at
    ``chunk_rows`` past it, should there be more)."""
    if chunk_rows >= RAMP_FROM_ROWS:
        up = [chunk_rows // 4, chunk_rows // 2]
        down = [chunk_rows // 2, chunk_rows // 4]
        yield from up
        if total is not None:
            # Full chunks, then what is left before the ramp down (less than a full one).
            full, rest = divmod(max(total - sum(up) - sum(down), 0), chunk_rows)
            yield from itertools.repeat(chunk_rows, full)
            if rest:
                yield rest
            yield from down
    yield from itertools.repeat(chunk_rows)


def statement_window_start(as_of: dt.date) -> dt.date:
    """The first cycle date a chunk reads: six cycles, the one before (the payment ratio
    compares with it) and a margin, from the first of the month."""
    return add_months(as_of, -8).replace(day=1)


def read_chunks_with(
    fetch: Fetch,
    end_read: Callable[[], None],
    sqlite: bool,
    *,
    as_of: dt.date,
    cycle_id: str,
    chunk_rows: int,
    total: int | None = None,
    only: str | None = None,
) -> Iterator[AccountChunk]:
    """The chunks of the store, read through ``fetch``; ``end_read`` ends the read
    transaction after each chunk (none is held while a chunk is decided and written);
    ``sqlite``: the store's dialect; ``total``: the accounts expected; ``only``: the one
    chunk of that account alone (the HTTP API's one decision, read as the review reads it)."""
    since = statement_window_start(as_of)
    last_change = (
        "MAX(effective_at)" if sqlite else "CAST(MAX(effective_at) AT TIME ZONE 'UTC' AS DATE)"
    )
    after = ""
    sizes = chunk_sizes(chunk_rows, total)
    while True:
        which, params = ("a.account_id > :after", {"after": after, "n": next(sizes)})
        if only is not None:
            which, params = ("a.account_id = :after", {"after": only, "n": 1})
        accounts = fetch(
            "SELECT a.account_id, a.customer_id, a.credit_limit_minor, a.open_date, a.status,"
            " a.currency, a.last_review_on, c.birth_year, c.education, c.annual_income_minor"
            " FROM accounts a LEFT JOIN customers c ON c.customer_id = a.customer_id"
            f" WHERE {which} ORDER BY a.account_id LIMIT :n",
            params,
            ACCOUNT_COLUMNS,
        )
        if accounts.height == 0:
            end_read()
            return
        first, last = accounts["account_id"][0], accounts["account_id"][-1]
        bounds = {"lo": first, "hi": last}
        standing = pl.DataFrame(schema=_STANDING_COLUMNS)
        if cycle_id != NO_CYCLE:
            params = {"cycle": cycle_id, "as_of": as_of, **bounds}
            standing = fetch(STANDING, params, _STANDING_COLUMNS)
        ineligible = standing.filter(pl.col("why") != EARLY)
        reviewed = accounts.filter(pl.col("status").is_in(REVIEWED_STATUSES))
        pending = reviewed.join(ineligible, on="account_id", how="anti")
        early = standing.filter(pl.col("why") == EARLY)["account_id"].implode()
        pending = pending.with_columns(pl.col("account_id").is_in(early).alias("early_review"))
        statements = pl.DataFrame(schema=REVIEW_STATEMENT_COLUMNS)
        changes = pl.DataFrame(schema=_LIMIT_CHANGES)
        holds = pl.DataFrame(schema=_HOLDS)
        if pending.height:
            statements = fetch(
                f"SELECT {', '.join(REVIEW_STATEMENT_COLUMNS)} FROM statements"
                " WHERE account_id BETWEEN :lo AND :hi"
                " AND cycle_date <= :as_of AND cycle_date >= :since",
                {**bounds, "as_of": as_of, "since": since},
                REVIEW_STATEMENT_COLUMNS,
            )
            changes = fetch(
                f"SELECT account_id, {last_change} FROM limit_history"
                " WHERE account_id BETWEEN :lo AND :hi GROUP BY account_id",
                bounds,
                _LIMIT_CHANGES,
            )
            holds = fetch(HOLDS_IN_RANGE, bounds, _HOLDS)
        end_read()
        after = last
        why = ineligible.join(reviewed.select("account_id"), on="account_id", how="semi")["why"]
        pending = pending.join(holds, on="account_id", how="left")
        chunk = _chunk(first, last, accounts, pending, statements, changes, ineligible.height > 0)
        chunk.skipped_within_cycle = int((why == WITHIN_CYCLE).sum())
        chunk.skipped_no_new_evidence = int((why == NO_NEW_EVIDENCE).sum())
        yield chunk
        if only is not None:
            return


def _chunk(
    first: str,
    last: str,
    accounts: pl.DataFrame,
    pending: pl.DataFrame,
    statements: pl.DataFrame,
    changes: pl.DataFrame,
    some_decided: bool,
) -> AccountChunk:
    pending = pending.join(changes, on="account_id", how="left")
    if some_decided or pending.height < accounts.height:
        statements = statements.join(pending.select("account_id"), on="account_id", how="semi")
    frames = ChunkFrames(
        statements=statements,
        accounts=pending.select(
            "account_id", "customer_id", "credit_limit_minor", "open_date", "status", "currency"
        ),
        customers=pending.select(
            "customer_id", "birth_year", "education", "annual_income_minor"
        ).unique("customer_id"),
    )
    return AccountChunk(
        first=first,
        last=last,
        accounts=pending,
        frames=frames,
        skipped=accounts.height - pending.height,
        seen=accounts.height,
    )
