"""One chunk of review decisions written on an ADBC connection, in one transaction.

The decisions are appended (SQLite) or staged in a temporary table and inserted with ``INSERT …
SELECT … ON CONFLICT DO NOTHING``, then the chunk's limit history, account updates, watches,
notices and run counts follow on the same connection, then one commit: a process killed at any
point leaves the whole chunk or nothing of it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import polars as pl

from cardpilot.domain.decisions import LimitAction
from cardpilot.store import adbc_statements as adbc
from cardpilot.store.bulk import bulk_connection, ingest, supports_bulk
from cardpilot.store.db import normalise_url
from cardpilot.store.frame_reads import adbc_frame
from cardpilot.store.limit_decisions import (
    ACCOUNTS_UPDATE,
    CHANGED_IN_CHUNK,
    HISTORY_INSERT,
    KIND_COLUMNS,
    KINDS_INSERTED,
    LIMIT_NOTICE_COLUMNS,
    RUN_COLUMNS,
    TEXT_SETS_INSERT,
    ChunkWritten,
    DecisionChunk,
    kinds_of,
)
from cardpilot.store.pending_limits import PENDING_IN_CHUNK, SUPERSEDED_IN_CHUNK
from cardpilot.store.review_runs import RUN_COUNTS_UPDATE, run_counts
from cardpilot.store.watches import watch_start_statement

_STAGE = "review_stage_decisions"
_APPEND = "review_decisions"

# The SQLite writer's page cache (KiB). A 100,000-account chunk dirties about 90 MB of pages
# (decisions and their three indexes, accounts, history); in SQLite's default 2 MB cache they
# spill into the WAL in the middle of the transaction and are read back from it when the next
# statement touches them again.
WRITER_CACHE_KIB = 256 * 1024


@contextmanager
def writer_connection(url: Any) -> Iterator[Any]:
    """The ADBC connection that writes the chunks; :func:`write_decisions` opens each chunk's
    transaction and :func:`commit_decisions` commits it.

    SQLite: autocommit, so the pragmas take effect (``synchronous`` cannot change inside the
    transaction a non-autocommit ADBC connection keeps open): ``synchronous=NORMAL`` as the
    SQLAlchemy engine has it (WAL: a commit does not wait for the disk; a process killed at
    any point still loses no committed chunk), a page cache that holds a chunk's pages
    (``WRITER_CACHE_KIB``), and each chunk in ``BEGIN IMMEDIATE`` … ``COMMIT``. PostgreSQL:
    ``bulk_connection``'s transaction.
    """
    if not supports_bulk(url) or normalise_url(url).get_backend_name() != "sqlite":
        with bulk_connection(url) as connection:
            yield connection
        return
    import adbc_driver_sqlite.dbapi as sqlite_dbapi

    connection = sqlite_dbapi.connect(normalise_url(url).database, autocommit=True)
    try:
        adbc.set_pragmas(
            connection,
            "busy_timeout=30000",
            "synchronous=NORMAL",
            "temp_store=MEMORY",
            f"cache_size=-{WRITER_CACHE_KIB}",
        )
        yield connection
    finally:
        if adbc.in_transaction(connection):
            adbc.roll_back(connection)
        connection.close()


def write_decisions(connection: Any, chunk: DecisionChunk) -> ChunkWritten:
    """Open the chunk's transaction and write everything but the run's counts."""
    adbc.begin(connection)
    for set_id, (zh, en) in chunk.text_sets.items():
        adbc.execute_named(connection, TEXT_SETS_INSERT, {"id": set_id, "zh": zh, "en": en})
    rows, bounds = chunk.rows, chunk.bounds
    columns = tuple(rows.columns)
    if rows.height and adbc.is_sqlite_connection(connection) and append_new(connection, rows):
        # Every row went in: the counts are the chunk's own.
        counts = rows.group_by(["action", "grade", "segment"], maintain_order=True).len()
    else:
        if rows.height:
            insert_staged(connection, rows, columns)
        counts = adbc_frame(connection, KINDS_INSERTED, bounds, KIND_COLUMNS)
    by_kind = kinds_of(counts)
    adbc.execute_named(connection, SUPERSEDED_IN_CHUNK, bounds)
    if any(kind[0] == LimitAction.DECREASE.value for kind in by_kind):
        pending = {**bounds, "effective_on": chunk.decrease_effective_on}
        adbc.execute_named(connection, PENDING_IN_CHUNK, pending)
    adbc.execute_named(connection, HISTORY_INSERT, {**bounds, "effective_at": chunk.effective})
    adbc.execute_named(connection, ACCOUNTS_UPDATE, bounds)
    watched = 0
    # Only an increase starts a watch: without one, the statement would read every decision
    # of the chunk to find none.
    if any(kind[0] == LimitAction.INCREASE.value for kind in by_kind):
        sql, params = watch_start_statement(
            chunk.watch, run=chunk.run_id, lo=chunk.first, hi=chunk.last
        )
        watched = adbc.inserted_rows(connection, sql, params)
    return ChunkWritten(by_kind, watched, rows.height)


def append_new(connection: Any, rows: pl.DataFrame) -> bool:
    """SQLite: the chunk's decisions appended to ``limit_decisions`` as they are; False, with
    nothing written, when the append fails: one of them is already there (an account decided
    in the cycle since the chunk was read), which :func:`insert_staged` then skips.

    The reader leaves out accounts already decided, so this is the usual case; it writes each
    row once, where the staged insert writes it into a temporary table first and copies it.
    Not on PostgreSQL: its driver cannot go on in the transaction after a failed COPY.
    """
    from adbc_driver_manager import DatabaseError

    adbc.savepoint(connection, _APPEND)
    try:
        ingest(connection, "limit_decisions", rows.to_arrow(), mode="append")
    except DatabaseError:
        # SQLite's driver reports a conflict as an internal error. Whatever it was, the staged
        # insert follows: it skips a conflict and raises anything else.
        adbc.roll_back_to(connection, _APPEND)
        return False
    adbc.release(connection, _APPEND)
    return True


def insert_staged(connection: Any, rows: pl.DataFrame, columns: Sequence[str]) -> None:
    """``INSERT … ON CONFLICT (account_id, cycle_id) DO NOTHING`` through a temporary table."""
    # The run's own columns, equal on every row, are parameters of the INSERT.
    constant = {
        c: rows[c][0]
        for c in RUN_COLUMNS
        if c in columns and rows[c].null_count() == 0 and rows[c].n_unique() == 1
    }
    staged = [c for c in columns if c not in constant]
    ingest(connection, _STAGE, rows.select(staged).to_arrow(), mode="replace", temporary=True)
    values = [f":{c}" if c in constant else c for c in columns]
    # "WHERE true": SQLite's parser needs it between INSERT … SELECT and ON CONFLICT.
    adbc.execute_named(
        connection,
        f"INSERT INTO limit_decisions ({', '.join(columns)}) SELECT {', '.join(values)}"
        f" FROM {_STAGE} WHERE true ON CONFLICT (account_id, cycle_id) DO NOTHING",
        constant,
    )


def changed_decisions(connection: Any, chunk: DecisionChunk) -> pl.DataFrame:
    """The run's decisions in the chunk that its notices tell (``LIMIT_NOTICE_COLUMNS``), read
    back inside its transaction."""
    return adbc_frame(connection, CHANGED_IN_CHUNK, chunk.bounds, LIMIT_NOTICE_COLUMNS)


def commit_decisions(connection: Any, chunk: DecisionChunk, written: ChunkWritten) -> None:
    """Add the chunk to the run's counts and commit its transaction."""
    counts = run_counts(
        chunk.run_id,
        by_action=written.by_action,
        skipped=chunk.skipped + written.skipped_as_decided,
        watched=written.watched,
    )
    adbc.execute_named(connection, RUN_COUNTS_UPDATE, counts)
    adbc.commit(connection)
