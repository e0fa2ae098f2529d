"""How a batch job reaches the store in chunks: the chunk reader for the store's back end, and
the SQLite helper processes that read and write a file store (``cardpilot.store.sqlite_helpers``).

* a SQLite file: a reader helper process (ADBC, Arrow batches, no Python rows);
* PostgreSQL: one ADBC connection in this process, its read transaction ended after each chunk;
* in-memory SQLite: SQLAlchemy's own connection (no second driver can share the store).
"""

from __future__ import annotations

import datetime as dt
import subprocess
from collections.abc import Generator, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import polars as pl
from sqlalchemy import Engine

from cardpilot.store.account_chunks import AccountChunk, read_chunks_with
from cardpilot.store.bulk import bulk_connection, supports_bulk
from cardpilot.store.db import is_sqlite
from cardpilot.store.frame_reads import FrameSchema, adbc_frame, query_frame
from cardpilot.store.sqlite_helpers import prepare_reader, remote_chunks, start_helper


@dataclass(frozen=True)
class HelperProcesses:
    """The SQLite helpers of one job (None: the store needs none)."""

    reader: subprocess.Popen[bytes] | None = None
    writer: subprocess.Popen[bytes] | None = None


@contextmanager
def helper_processes(database_url: str) -> Iterator[HelperProcesses]:
    """For a SQLite file, the reader and writer helpers, started now so their start-up
    overlaps the job's own preparations; stopped on exit if the job left them running (it
    failed early)."""
    helpers = HelperProcesses()
    if is_sqlite(database_url) and supports_bulk(database_url):
        helpers = HelperProcesses(start_helper("reader"), start_helper("writer"))
    try:
        yield helpers
    finally:
        for process in (helpers.reader, helpers.writer):
            if process is None:
                continue
            if process.poll() is None:
                process.kill()
            process.wait()


def read_account_chunks(
    db: Engine,
    *,
    as_of: dt.date,
    cycle_id: str,
    chunk_rows: int,
    reader: subprocess.Popen[bytes] | None = None,
    total: int | None = None,
) -> Generator[AccountChunk, None, None]:
    """The store's accounts in chunks (``cardpilot.store.account_chunks``), through the back
    end's reader (see the module); ``reader``: a reader helper started early (SQLite file);
    ``total``: the accounts expected."""
    sqlite = db.dialect.name == "sqlite"
    job: dict[str, Any] = {
        "as_of": as_of,
        "cycle_id": cycle_id,
        "chunk_rows": chunk_rows,
        "total": total,
    }
    if supports_bulk(db.url) and sqlite:
        yield from remote_chunks(db.url.render_as_string(hide_password=False), reader, **job)
        return
    if supports_bulk(db.url):
        with bulk_connection(db.url) as conn:
            prepare_reader(conn)

            def fetch(sql: str, params: Mapping[str, Any], schema: FrameSchema) -> pl.DataFrame:
                return adbc_frame(conn, sql, params, schema)

            yield from read_chunks_with(fetch, conn.rollback, sqlite, **job)
        return

    def fetch_sqlalchemy(sql: str, params: Mapping[str, Any], schema: FrameSchema) -> pl.DataFrame:
        with db.connect() as sa_conn:
            return query_frame(sa_conn, sql, params, schema)

    yield from read_chunks_with(fetch_sqlalchemy, lambda: None, sqlite, **job)
