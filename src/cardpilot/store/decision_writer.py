"""The one way a batch job writes a chunk of review decisions: :class:`DecisionWriter`.

Each chunk is one transaction: its decisions (``ON CONFLICT (account_id, cycle_id) DO
NOTHING``), the pending decreases of the decisions it inserted (and the earlier pending changes
they supersede, ``cardpilot.store.pending_limits``), the limit history and account updates, the
watches after large increases, the notices of its limit changes in the outbox (rendered by the
caller from the changes read back inside the transaction: the transactional outbox) and the
run's counts. ``before_commit`` runs inside the transaction, after everything else was written.

Three back ends, one interface (:func:`open_decision_writer` picks):

* PostgreSQL: ADBC in this process (``cardpilot.store.adbc_decisions``);
* a SQLite file: the same ADBC statements in a writer helper process
  (``cardpilot.store.sqlite_helpers``, for the reason given there);
* an in-memory SQLite store (one connection, no second driver can share it): SQLAlchemy.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from sqlalchemy import Connection, Date, DateTime, Engine, bindparam, text

from cardpilot.domain.decisions import LimitAction
from cardpilot.store import adbc_decisions
from cardpilot.store.bulk import supports_bulk
from cardpilot.store.frame_reads import query_frame
from cardpilot.store.limit_decisions import (
    ACCOUNTS_UPDATE,
    CHANGED_IN_CHUNK,
    HISTORY_INSERT,
    KIND_COLUMNS,
    KINDS_INSERTED,
    LIMIT_NOTICE_COLUMNS,
    TEXT_SETS_INSERT,
    ChunkWritten,
    DecisionChunk,
    kinds_of,
)
from cardpilot.store.outbox_rows import insert_outbox, insert_outbox_adbc
from cardpilot.store.pending_limits import PENDING_IN_CHUNK, SUPERSEDED_IN_CHUNK
from cardpilot.store.review_runs import RUN_COUNTS_UPDATE, run_counts
from cardpilot.store.sqlite_helpers import NoticeRenderer, RemoteDecisionWriter
from cardpilot.store.watches import watch_start_statement


class DecisionWriter(Protocol):
    # True: a chunk may be written on a thread of its own while the next one is decided.
    writes_behind: bool

    def write(
        self,
        chunk: DecisionChunk,
        *,
        notices: NoticeRenderer | None,
        before_commit: Callable[[], None],
    ) -> ChunkWritten:
        """Write ``chunk`` in one transaction and commit it; ``notices``: the outbox rows of
        the chunk's limit changes (None: no notices)."""
        ...


class AdbcDecisionWriter:
    """PostgreSQL: the chunk's statements on one ADBC connection of this process."""

    writes_behind = True

    def __init__(self, connection: Any) -> None:
        self._connection = connection

    def write(
        self,
        chunk: DecisionChunk,
        *,
        notices: NoticeRenderer | None,
        before_commit: Callable[[], None],
    ) -> ChunkWritten:
        written = adbc_decisions.write_decisions(self._connection, chunk)
        if notices is not None:
            changed = adbc_decisions.changed_decisions(self._connection, chunk)
            insert_outbox_adbc(self._connection, notices(changed))
        before_commit()
        adbc_decisions.commit_decisions(self._connection, chunk, written)
        return written


_PENDING = text(PENDING_IN_CHUNK).bindparams(bindparam("effective_on", type_=Date))
_HISTORY = text(HISTORY_INSERT).bindparams(bindparam("effective_at", type_=DateTime(timezone=True)))


class SqlAlchemyDecisionWriter:
    """A store no bulk driver can open (in-memory SQLite), and the HTTP API's one decision at a
    time on any store: the statements on SQLAlchemy."""

    writes_behind = False

    def __init__(self, db: Engine) -> None:
        self._db = db

    def write(
        self,
        chunk: DecisionChunk,
        *,
        notices: NoticeRenderer | None,
        before_commit: Callable[[], None],
    ) -> ChunkWritten:
        bounds = chunk.bounds
        with self._db.begin() as conn:
            self._insert(conn, chunk)
            by_kind = kinds_of(query_frame(conn, KINDS_INSERTED, bounds, KIND_COLUMNS))
            conn.execute(text(SUPERSEDED_IN_CHUNK), bounds)
            if any(kind[0] == LimitAction.DECREASE.value for kind in by_kind):
                pending = {**bounds, "effective_on": chunk.decrease_effective_on}
                conn.execute(_PENDING, pending)
            conn.execute(_HISTORY, {**bounds, "effective_at": chunk.effective})
            conn.execute(text(ACCOUNTS_UPDATE), bounds)
            watched = 0
            if any(kind[0] == LimitAction.INCREASE.value for kind in by_kind):
                sql, params = watch_start_statement(
                    chunk.watch, run=chunk.run_id, lo=chunk.first, hi=chunk.last
                )
                watched = int(conn.execute(text(sql), params).rowcount or 0)
            written = ChunkWritten(by_kind, watched, chunk.rows.height)
            if notices is not None:
                changed = query_frame(conn, CHANGED_IN_CHUNK, bounds, LIMIT_NOTICE_COLUMNS)
                insert_outbox(conn, notices(changed) if changed.height else None)
            before_commit()
            counts = run_counts(
                chunk.run_id,
                by_action=written.by_action,
                skipped=chunk.skipped + written.skipped_as_decided,
                watched=watched,
            )
            conn.execute(text(RUN_COUNTS_UPDATE), counts)
        return written

    @staticmethod
    def _insert(conn: Connection, chunk: DecisionChunk) -> None:
        if chunk.text_sets:
            conn.execute(
                text(TEXT_SETS_INSERT),
                [{"id": k, "zh": zh, "en": en} for k, (zh, en) in chunk.text_sets.items()],
            )
        if not chunk.rows.height:
            return
        import polars as pl

        # DECISION_COLUMNS, and a test's columns when it split the review.
        columns = tuple(chunk.rows.columns)
        cols = ", ".join(columns)
        if conn.dialect.name != "sqlite":  # the HTTP API's one decision on PostgreSQL
            named = ", ".join(f":{c}" for c in columns)
            conn.execute(
                text(
                    f"INSERT INTO limit_decisions ({cols}) VALUES ({named})"
                    " ON CONFLICT (account_id, cycle_id) DO NOTHING"
                ),
                chunk.rows.to_dicts(),
            )
            return
        marks = ", ".join(["?"] * len(columns))
        rows = chunk.rows.with_columns(  # the text and 0/1 SQLAlchemy's SQLite types store
            pl.col("as_of").cast(pl.String), pl.col("due_for_review").cast(pl.Int8)
        ).rows()
        conn.exec_driver_sql(
            f"INSERT INTO limit_decisions ({cols}) VALUES ({marks})"
            " ON CONFLICT (account_id, cycle_id) DO NOTHING",
            rows,
        )


@contextmanager
def open_decision_writer(
    db: Engine, process: subprocess.Popen[bytes] | None = None
) -> Iterator[DecisionWriter]:
    """The writer of ``db``'s store (see the module); ``process``: a writer helper started
    early (``start_helper("writer")``) for a SQLite file."""
    url = db.url
    if not supports_bulk(url):
        yield SqlAlchemyDecisionWriter(db)
        return
    if url.get_backend_name() == "sqlite":
        writer = RemoteDecisionWriter(url.render_as_string(hide_password=False), process)
        try:
            yield writer
        finally:
            writer.close()
        return
    with adbc_decisions.writer_connection(url) as connection:
        yield AdbcDecisionWriter(connection)
