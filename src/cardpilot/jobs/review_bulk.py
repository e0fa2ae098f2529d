"""The review's Arrow-native path through the store (ADBC, ``cardpilot.store.bulk``).

A million-account review moves columns of millions: row-at-a-time drivers cost microseconds
per row in the interpreter, ADBC moves whole Arrow batches in native code. Two parts:

* :func:`bulk_frame`: a query's result as a Polars frame of a given schema (the chunk reads);
* :func:`persist_chunk`: one chunk's decisions, limit history, account updates, watches,
  notices and run counts in **one transaction on one connection**: the decisions are staged
  in a temporary table, then ``INSERT … SELECT … ON CONFLICT DO NOTHING`` and the set-based
  statements of ``cardpilot.jobs.review`` run against it, then one commit. A process killed
  at any point leaves the whole chunk or nothing of it.

In-memory SQLite stores cannot be shared between two drivers (``supports_bulk`` is False); the
review keeps its SQLAlchemy path there.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import polars as pl
import pyarrow as pa

from cardpilot.domain.decisions import LimitAction
from cardpilot.store.bulk import (
    bind_named,
    bulk_connection,
    execute,
    ingest,
    read_arrow_whole,
    supports_bulk,
)
from cardpilot.store.db import normalise_url
from cardpilot.store.review_models import TEXT_SETS_JOIN, decision_texts

_STAGE = "review_stage_decisions"
_NOTICE_STAGE = "review_stage_outbox"
_RUN_COLUMNS = ("run_id", "cycle_id", "as_of", "policy_version", "model_version")


def is_sqlite(connection: Any) -> bool:
    return type(connection).__module__.startswith("adbc_driver_sqlite")


# The SQLite writer's page cache (KiB). A 100,000-account chunk dirties about 90 MB of pages
# (decisions and their three indexes, accounts, history); in SQLite's default 2 MB cache they
# spill into the WAL in the middle of the transaction and are read back from it when the
# next statement touches them again. The writer replay of a 1M review took 10-13 % less CPU.
WRITER_CACHE_KIB = 256 * 1024


@contextmanager
def writer_connection(url: Any) -> Iterator[Any]:
    """The connection that writes the chunks; :func:`persist_chunk` opens and commits each
    chunk's transaction itself.

    SQLite: autocommit, so the pragmas take effect (``synchronous`` cannot change inside the
    transaction a non-autocommit ADBC connection keeps open): ``synchronous=NORMAL`` as the
    SQLAlchemy engine has it (WAL: a commit does not wait for the disk; a process killed at
    any point still loses no committed chunk), foreign keys checked as there, a page cache
    that holds a chunk's pages (``WRITER_CACHE_KIB``), and each chunk in ``BEGIN IMMEDIATE``
    … ``COMMIT``. PostgreSQL: ``bulk_connection``'s transaction.
    """
    if not supports_bulk(url) or normalise_url(url).get_backend_name() != "sqlite":
        with bulk_connection(url) as connection:
            yield connection
        return
    import adbc_driver_sqlite.dbapi as sqlite_dbapi

    connection = sqlite_dbapi.connect(normalise_url(url).database, autocommit=True)
    try:
        pragmas = (
            "busy_timeout=30000",
            "synchronous=NORMAL",
            "temp_store=MEMORY",
            f"cache_size=-{WRITER_CACHE_KIB}",
        )
        for pragma in pragmas:
            execute(connection, f"PRAGMA {pragma}")
        yield connection
    finally:
        if _in_transaction(connection):
            execute(connection, "ROLLBACK")
        connection.close()


def _in_transaction(connection: Any) -> bool:
    return bool(getattr(connection, "_cardpilot_open", False))


def _begin(connection: Any) -> None:
    if is_sqlite(connection):
        execute(connection, "BEGIN IMMEDIATE")  # the write lock now, not at the first write
        connection._cardpilot_open = True


def _commit(connection: Any) -> None:
    if is_sqlite(connection):
        execute(connection, "COMMIT")
        connection._cardpilot_open = False
    else:
        connection.commit()


def prepare_reader(connection: Any) -> None:
    """Memory-mapped reads on SQLite: the chunk reads touch every page of the statements."""
    if is_sqlite(connection):
        execute(connection, "PRAGMA mmap_size=4294967296")


def run(connection: Any, sql: str, params: Mapping[str, Any]) -> None:
    """One statement with ``:name`` parameters."""
    statement, values = bind_named(connection, sql, params)
    with connection.cursor() as cursor:
        cursor.execute(statement, values)


def run_counted(connection: Any, sql: str, params: Mapping[str, Any]) -> int:
    """One INSERT with ``:name`` parameters; returns the rows it inserted (neither ADBC
    driver reports a row count: SQLite's ``changes()``, PostgreSQL's ``RETURNING``)."""
    if is_sqlite(connection):
        run(connection, sql, params)
        table = read_arrow_whole(connection, "SELECT changes()")
        return int(table.column(0)[0].as_py())
    counted = bulk_frame(
        connection,
        f"WITH changed AS ({sql} RETURNING 1) SELECT COUNT(*) FROM changed",
        params,
        {"n": pl.Int64()},
    )
    return int(counted["n"][0]) if counted.height else 0


def bulk_frame(
    connection: Any, sql: str, params: Mapping[str, Any], schema: Mapping[str, pl.DataType]
) -> pl.DataFrame:
    """The rows of ``sql`` (``:name`` parameters) as a frame of ``schema``, columns by position.

    SQLite hands dates back as ISO text (timestamps as text whose first ten characters are the
    date) and booleans as 0/1; PostgreSQL as typed values. Both become ``schema``'s types.
    """
    statement, values = bind_named(connection, sql, params)
    table = read_arrow_whole(connection, statement, values)
    names = list(schema)
    if table.num_rows == 0:
        return pl.DataFrame(schema=dict(schema))
    table = table.rename_columns(names)
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    exprs = []
    for name, dtype in schema.items():
        current = frame.schema[name]
        column = pl.col(name)
        if dtype == pl.Date() and current in (pl.String(), pl.Utf8()):
            exprs.append(column.str.slice(0, 10).str.to_date("%Y-%m-%d").alias(name))
        elif dtype == pl.Boolean() and current != pl.Boolean():
            exprs.append(column.cast(pl.Int8).cast(pl.Boolean).alias(name))
        elif current != dtype:
            exprs.append(column.cast(dtype).alias(name))
        else:
            exprs.append(column)
    return frame.select(exprs)


def _stage(connection: Any, name: str, frame: pl.DataFrame) -> None:
    """``frame`` as the connection's temporary table ``name`` (replacing the last chunk's)."""
    ingest(connection, name, frame.to_arrow(), mode="replace", temporary=True)


@dataclass(frozen=True)
class ChunkWrite:
    """What one chunk writes, as plain data (it crosses to the SQLite helper process)."""

    columns: tuple[str, ...]
    # The chunk's reason text sets (id → zh-CN and en JSON arrays), written before its
    # decisions (``TEXT_SETS_INSERT``: a set already there is kept).
    text_sets: dict[str, tuple[str, str]]
    bounds: dict[str, Any]  # run, lo, hi
    history_sql: str
    accounts_sql: str
    counts_sql: str
    watches_sql: str
    watches_params: dict[str, Any]
    effective: dt.datetime
    skipped: int


def tally(kinds: Mapping[tuple[Any, ...], int], position: int) -> Counter[Any]:
    """Counts by (action, grade, segment) summed by one of the three."""
    totals: Counter[Any] = Counter()
    for kind, n in kinds.items():
        totals[kind[position]] += n
    return totals


@dataclass(frozen=True)
class ChunkWritten:
    # Decisions inserted by (action, grade, segment): the cycle's counts without a rescan.
    by_kind: dict[tuple[Any, Any, Any], int]
    watched: int
    offered: int

    @property
    def by_action(self) -> Counter[Any]:
        return tally(self.by_kind, 0)

    @property
    def inserted(self) -> int:
        return sum(self.by_kind.values())


# Writing a set again is a no-op: its id is a digest of its texts.
TEXT_SETS_INSERT = (
    "INSERT INTO reason_text_sets (id, texts_zh, texts_en) VALUES (:id, :zh, :en)"
    " ON CONFLICT (id) DO NOTHING"
)


def write_chunk(connection: Any, rows: pl.DataFrame, spec: ChunkWrite) -> ChunkWritten:
    """Open the chunk's transaction and write everything but the run's counts."""
    _begin(connection)
    for set_id, (zh, en) in spec.text_sets.items():
        run(connection, TEXT_SETS_INSERT, {"id": set_id, "zh": zh, "en": en})
    kinds = "action, grade, segment"
    if rows.height and is_sqlite(connection) and _insert_new(connection, rows, spec.columns):
        # Every row went in: the counts are the chunk's own.
        counts = rows.group_by(["action", "grade", "segment"], maintain_order=True).len()
    else:
        if rows.height:
            _insert_staged(connection, rows, spec.columns)
        counts = bulk_frame(
            connection,
            f"SELECT {kinds}, COUNT(*) FROM limit_decisions"
            f" WHERE run_id = :run AND account_id BETWEEN :lo AND :hi GROUP BY {kinds}",
            spec.bounds,
            {"action": pl.String(), "grade": pl.String(), "segment": pl.String(), "n": pl.Int64()},
        )
    by_kind = {(a, g, s): int(n) for a, g, s, n in counts.iter_rows()}
    run(connection, spec.history_sql, {**spec.bounds, "effective_at": spec.effective})
    run(connection, spec.accounts_sql, spec.bounds)
    watched = 0
    # Only an increase starts a watch: without one, the statement would read every decision
    # of the chunk to find none.
    if any(kind[0] == LimitAction.INCREASE.value for kind in by_kind):
        watched = run_counted(connection, spec.watches_sql, spec.watches_params)
    return ChunkWritten(by_kind, watched, rows.height)


def _insert_new(connection: Any, rows: pl.DataFrame, columns: Sequence[str]) -> bool:
    """The chunk's decisions appended to ``limit_decisions`` as they are; False, with nothing
    written, when the append fails: one of them is already there (an account decided in the
    cycle since the chunk was read), which :func:`_insert_staged` then skips.

    The reader leaves out accounts already decided, so this is the usual case; it writes each
    row once, where the staged insert writes it into a temporary table first and copies it.
    SQLite only: PostgreSQL's driver cannot go on in the transaction after a failed COPY (it
    would have to begin a new one), so there the staged insert is the only way.
    """
    from adbc_driver_manager import DatabaseError

    execute(connection, "SAVEPOINT review_decisions")
    try:
        ingest(connection, "limit_decisions", rows.select(columns).to_arrow(), mode="append")
    except DatabaseError:
        # SQLite's driver reports a conflict as an internal error. Whatever it was, the staged
        # insert follows: it skips a conflict and raises anything else.
        execute(connection, "ROLLBACK TO SAVEPOINT review_decisions")
        execute(connection, "RELEASE SAVEPOINT review_decisions")
        return False
    execute(connection, "RELEASE SAVEPOINT review_decisions")
    return True


def _insert_staged(connection: Any, rows: pl.DataFrame, columns: Sequence[str]) -> None:
    """``INSERT … ON CONFLICT (account_id, cycle_id) DO NOTHING`` through a temporary table."""
    # The run's own columns, equal on every row, are parameters of the INSERT.
    constant = {
        c: rows[c][0]
        for c in _RUN_COLUMNS
        if c in columns and rows[c].null_count() == 0 and rows[c].n_unique() == 1
    }
    staged = [c for c in columns if c not in constant]
    _stage(connection, _STAGE, rows.select(staged))
    values = [f":{c}" if c in constant else c for c in columns]
    # "WHERE true": SQLite's parser needs it between INSERT … SELECT and ON CONFLICT.
    run(
        connection,
        f"INSERT INTO limit_decisions ({', '.join(columns)}) SELECT {', '.join(values)}"
        f" FROM {_STAGE} WHERE true ON CONFLICT (account_id, cycle_id) DO NOTHING",
        constant,
    )


def commit_chunk(connection: Any, spec: ChunkWrite, written: ChunkWritten) -> None:
    """Add the chunk to the run's counts and commit its transaction."""
    by_action = written.by_action
    run(
        connection,
        spec.counts_sql,
        {
            "run": spec.bounds["run"],
            "decided": written.inserted,
            "skipped": spec.skipped + (written.offered - written.inserted),
            "inc": by_action["increase"],
            "keep": by_action["keep"],
            "dec": by_action["decrease"],
            "watched": written.watched,
        },
    )
    _commit(connection)


def persist_chunk(
    writer: Any,
    rows: pl.DataFrame,
    spec: ChunkWrite,
    *,
    render_notices: Callable[[pl.DataFrame], pa.Table | None] | None,
    before_commit: Callable[[], None],
) -> ChunkWritten:
    """One chunk in one transaction on ``writer`` (an ADBC connection, or the SQLite helper
    process's :class:`RemoteWriter`). ``render_notices``: the outbox rows of the chunk's
    limit changes (read back inside the transaction), inserted in it; ``before_commit`` runs
    inside the transaction."""
    if isinstance(writer, RemoteWriter):
        return writer.persist(rows, spec, render_notices, before_commit)
    written = write_chunk(writer, rows, spec)
    if render_notices is not None:
        insert_outbox(writer, render_notices(changed_decisions(writer, spec.bounds)))
    before_commit()
    commit_chunk(writer, spec, written)
    return written


# --------------------------------------------------------------------------- SQLite helper

# Python's sqlite3 (SQLAlchemy's driver) and ADBC each carry their own copy of SQLite. Two
# copies in one process must never open one database file: each takes the other's POSIX
# locks for its own, so the last of one copy to close checkpoints and deletes the WAL under
# the other's open connections (sqlite.org/howtocorrupt.html 2.2). On SQLite the review's
# ADBC connections therefore live in a helper process; between processes the locks work.


# The helpers' own Polars work is a few conversions per chunk; a pool of Polars threads in
# each of them would only wait (and spin) beside the review's threads on the same cores.
HELPER_POLARS_THREADS = "1"


def _helper(role: str) -> subprocess.Popen[bytes]:
    """``python -m cardpilot.jobs.review_bulk ROLE``: pickled messages on stdin and stdout.

    A plain child process (not ``multiprocessing``, which re-imports the caller's main
    module); its stderr is the review's."""
    return subprocess.Popen(
        [sys.executable, "-m", "cardpilot.jobs.review_bulk", role],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={**os.environ, "POLARS_MAX_THREADS": HELPER_POLARS_THREADS},
    )


# --- hand-off: large frames cross as Arrow IPC files in shared memory, not through the pipe.
# Pickling a 100,000-account chunk (~45 MB) and pushing it through a pipe costs the sender and
# the receiver a copy and an encoding each; an IPC file in /dev/shm costs the sender one write
# and the receiver a memory map (the pages are read where the features touch them). The
# pickled message carries the file's name; the receiver unlinks the file once it has mapped
# it. Each sender owns its directory and removes it when it ends; a directory left by a
# killed review is removed by the next one (its process is gone).

_HANDOFF_PREFIX = "cardpilot-review-"
# Frames of fewer rows stay in the message (tests set it to check both ways give one result).
HANDOFF_MIN_ROWS_ENV = "CARDPILOT_REVIEW_HANDOFF_MIN_ROWS"


def _handoff_min_rows() -> int:
    return int(os.environ.get(HANDOFF_MIN_ROWS_ENV, "4096"))


def _handoff_root() -> Path:
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        return shm
    return Path(tempfile.gettempdir())


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


@contextmanager
def handoff_directory() -> Iterator[Path]:
    """A directory for this process's hand-off files, removed on exit (with any left over by
    review processes that were killed)."""
    root = _handoff_root()
    for stale in root.glob(f"{_HANDOFF_PREFIX}*"):
        pid = stale.name.removeprefix(_HANDOFF_PREFIX).split("-")[0]
        if pid.isdigit() and not _process_alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)
    folder = Path(tempfile.mkdtemp(prefix=f"{_HANDOFF_PREFIX}{os.getpid()}-", dir=root))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class _Pickler(pickle.Pickler):
    def __init__(self, file: IO[bytes], folder: Path | None) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self._folder = folder
        self._min_rows = _handoff_min_rows()

    def persistent_id(self, obj: Any) -> Any:
        if self._folder is None or not isinstance(obj, pl.DataFrame) or obj.height < self._min_rows:
            return None
        path = self._folder / f"{uuid.uuid4().hex}.arrow"
        obj.write_ipc(path, compression="uncompressed")
        return ("frame", str(path))


class _Unpickler(pickle.Unpickler):
    def persistent_load(self, pid: Any) -> Any:
        kind, path = pid
        if kind != "frame":
            raise pickle.UnpicklingError(f"unknown hand-off {kind!r}")
        # The mapping outlives the file's name: the frame's buffers keep it alive.
        table = pa.ipc.open_file(pa.memory_map(path)).read_all()
        os.unlink(path)
        frame = pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)
        return frame


def _send(stream: IO[bytes], message: Any, folder: Path | None = None) -> None:
    """One message; with ``folder``, its large frames go through hand-off files there."""
    _Pickler(stream, folder).dump(message)
    stream.flush()


def _load(stream: IO[bytes]) -> Any:
    return _Unpickler(stream).load()


def _reader_main(url: str, job: dict[str, Any], requests: IO[bytes], out: IO[bytes]) -> None:
    """Helper process: read the chunks with ADBC and hand them over, one at a time: after
    each chunk it waits for the review to take it before reading the next, so at most one
    chunk waits in shared memory."""
    from cardpilot.jobs.review import read_chunks_with

    try:
        with bulk_connection(url) as connection, handoff_directory() as folder:
            prepare_reader(connection)

            def fetch(
                sql: str, params: Mapping[str, Any], schema: Mapping[str, pl.DataType]
            ) -> pl.DataFrame:
                return bulk_frame(connection, sql, params, schema)

            for chunk in read_chunks_with(fetch, connection.rollback, True, **job):
                _send(out, chunk, folder)
                if pickle.load(requests) != "next":  # the review stopped
                    return
    except (BrokenPipeError, EOFError):  # the review stopped reading
        return
    except BaseException as exc:  # raised in the review process
        _send(out, RuntimeError(f"reading the chunks failed: {type(exc).__name__}: {exc}"))
        return
    _send(out, None)


def start_reader() -> subprocess.Popen[bytes]:
    """Start the reader helper early: its start-up (an interpreter, Polars, ADBC) then
    overlaps the review's own preparations."""
    return _helper("reader")


def remote_chunks(
    url: str, process: subprocess.Popen[bytes] | None = None, **job: Any
) -> Iterator[Any]:
    """The chunks, read by a helper process (see above); it stops when this generator does."""
    process = process or _helper("reader")
    assert process.stdin is not None
    assert process.stdout is not None
    try:
        _send(process.stdin, (url, job))
        while True:
            item = _load(process.stdout)
            if item is None:
                break
            if isinstance(item, BaseException):
                raise item
            _send(process.stdin, "next")
            yield item
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        process.stdin.close()
        process.stdout.close()


# Past this size the writer's WAL is checkpointed and restarted before the next chunk; the
# file is cut back to it when it restarts (``journal_size_limit``).
WAL_LIMIT_BYTES = 1024 * 1024 * 1024


class _Checkpointer:
    """Checkpoints the SQLite writer's WAL on a thread of its own, while the writer goes on.

    After each commit SQLite's own checkpoint (``wal_autocheckpoint``) copies the chunk's
    pages into the database file and syncs it, on the committing connection: the writer
    would wait for the disk before it can take the next chunk. Here the writer's connection
    leaves that to a second connection on this thread (``PRAGMA wal_checkpoint(PASSIVE)``,
    which never blocks the writer or the readers), so the copy and the sync overlap the
    next chunk's statements. Committed chunks are durable in the WAL either way
    (https://sqlite.org/wal.html#ckpt).
    """

    def __init__(self, url: str, writer: Any) -> None:
        import adbc_driver_sqlite.dbapi as sqlite_dbapi

        database = normalise_url(url).database or ""
        self._wal = Path(f"{database}-wal")
        self._writer = writer
        self._connection = sqlite_dbapi.connect(database, autocommit=True)
        execute(self._connection, "PRAGMA busy_timeout=30000")
        self._wanted = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="review-checkpoint", daemon=True)
        self._thread.start()

    def request(self) -> None:
        self._idle.clear()
        self._wanted.set()

    def bound(self) -> None:
        """Before the writer's next chunk: a WAL grown past ``WAL_LIMIT_BYTES`` is checkpointed
        to its end and started again from its beginning (``RESTART``: waits for the reader to
        finish the chunk it is reading). With the checkpoints running beside the writer, SQLite
        would otherwise never find the WAL wholly copied when a chunk begins, and the file
        would grow by the whole review (about 1 KB per account)."""
        with suppress(OSError):
            if self._wal.stat().st_size <= WAL_LIMIT_BYTES:
                return
        self._idle.wait()
        with suppress(Exception):  # busy: the next chunk tries again
            read_arrow_whole(self._writer, "PRAGMA wal_checkpoint(RESTART)")

    def _run(self) -> None:
        while True:
            self._wanted.wait()
            self._wanted.clear()
            if self._closing:
                return
            with suppress(Exception):  # a busy database: the next request or SQLite retries
                read_arrow_whole(self._connection, "PRAGMA wal_checkpoint(PASSIVE)")
            if not self._wanted.is_set():
                self._idle.set()

    def close(self) -> None:
        self._closing = True
        self._wanted.set()
        self._thread.join()
        try:
            read_arrow_whole(self._connection, "PRAGMA wal_checkpoint(PASSIVE)")
        finally:
            self._connection.close()


def _writer_main(url: str, requests: IO[bytes], replies: IO[bytes]) -> None:
    """Helper process: each chunk written, then committed when the review says so. The
    review's process gone (killed) before that: the transaction rolls back."""
    with writer_connection(url) as connection, _checkpointing(url, connection) as checkpoint:
        while True:
            checkpoint.bound()
            try:
                message = _load(requests)
            except EOFError:
                return
            if message is None:
                return
            rows, spec, with_notices = message
            try:
                written = write_chunk(connection, rows, spec)
                changed = changed_decisions(connection, spec.bounds) if with_notices else None
                _send(replies, (written, changed))
                reply = pickle.load(requests)
                if not (isinstance(reply, tuple) and reply[0] == "commit"):
                    return
                insert_outbox(connection, reply[1])
                commit_chunk(connection, spec, written)
                checkpoint.request()
                _send(replies, "committed")
            except EOFError:
                return
            except BaseException as exc:
                _send(replies, RuntimeError(f"writing a chunk failed: {type(exc).__name__}: {exc}"))
                return


@contextmanager
def _checkpointing(url: str, connection: Any) -> Iterator[_Checkpointer]:
    """The writer's checkpoints on a thread of their own (:class:`_Checkpointer`):
    ``bound()`` before each chunk, ``request()`` after each commit."""
    execute(connection, "PRAGMA wal_autocheckpoint=0")
    execute(connection, f"PRAGMA journal_size_limit={WAL_LIMIT_BYTES}")
    checkpointer = _Checkpointer(url, connection)
    try:
        yield checkpointer
    finally:
        checkpointer.close()


class RemoteWriter:
    """The writer of a SQLite store: an ADBC connection in a helper process (see above)."""

    def __init__(self, url: str, process: subprocess.Popen[bytes] | None = None) -> None:
        self._process = process or _helper("writer")
        assert self._process.stdin is not None
        assert self._process.stdout is not None
        self._requests, self._replies = self._process.stdin, self._process.stdout
        self._handoff = handoff_directory()
        self._folder = self._handoff.__enter__()
        _send(self._requests, url)

    def _receive(self) -> Any:
        try:
            reply = pickle.load(self._replies)
        except EOFError as exc:
            raise RuntimeError("the review's writer process ended unexpectedly") from exc
        if isinstance(reply, BaseException):
            raise reply
        return reply

    def persist(
        self,
        rows: pl.DataFrame,
        spec: ChunkWrite,
        render_notices: Callable[[pl.DataFrame], pa.Table | None] | None,
        before_commit: Callable[[], None],
    ) -> ChunkWritten:
        _send(self._requests, (rows, spec, render_notices is not None), self._folder)
        written, changed = self._receive()
        outbox = render_notices(changed) if render_notices is not None else None
        before_commit()
        _send(self._requests, ("commit", outbox))
        self._receive()
        assert isinstance(written, ChunkWritten)
        return written

    def close(self) -> None:
        with suppress(BrokenPipeError, OSError):
            _send(self._requests, None)
        try:
            self._process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._requests.close()
        self._replies.close()
        self._handoff.__exit__(None, None, None)


def start_writer() -> subprocess.Popen[bytes]:
    """Start the writer helper early (see :func:`start_reader`)."""
    return _helper("writer")


@contextmanager
def chunk_writer(url: Any, process: subprocess.Popen[bytes] | None = None) -> Iterator[Any]:
    """The review's chunk writer: in-process ADBC on PostgreSQL, a helper process on SQLite
    (``process``: one started by :func:`start_writer`)."""
    if normalise_url(url).get_backend_name() == "sqlite":
        writer = RemoteWriter(normalise_url(url).render_as_string(hide_password=False), process)
        try:
            yield writer
        finally:
            writer.close()
        return
    with writer_connection(url) as connection:
        yield connection


# --------------------------------------------------------------------------- notices

_NOTICE_QUERY = (
    "SELECT d.id, d.account_id, a.customer_id, a.currency, d.as_of, d.old_limit_minor,"
    f" d.new_limit_minor, d.reason_codes, {decision_texts('zh')}, {decision_texts('en')},"
    " d.policy_version FROM limit_decisions d JOIN accounts a ON a.account_id = d.account_id"
    f" {TEXT_SETS_JOIN}"
    " WHERE d.run_id = :run AND d.account_id BETWEEN :lo AND :hi"
    " AND d.new_limit_minor <> d.old_limit_minor ORDER BY d.id"
)
_NOTICE_SCHEMA: dict[str, pl.DataType] = {
    "id": pl.Int64(),
    "account_id": pl.String(),
    "customer_id": pl.String(),
    "currency": pl.String(),
    "as_of": pl.Date(),
    "old_limit_minor": pl.Int64(),
    "new_limit_minor": pl.Int64(),
    "reason_codes": pl.String(),
    "reason_texts_zh": pl.String(),
    "reason_texts_en": pl.String(),
    "policy_version": pl.String(),
}
_OUTBOX_COLUMNS = (
    "message_key",
    "customer_id",
    "account_id",
    "decision_ref",
    "message_type",
    "category",
    "channel",
    "locale",
    "subject",
    "body_text",
    "body_html",
    "policy_version",
    "templates_version",
    "state",
    "attempts",
    "next_attempt_at",
    "created_at",
)


def changed_decisions(connection: Any, bounds: Mapping[str, Any]) -> pl.DataFrame:
    """This run's limit changes in the chunk, read back inside its transaction."""
    return bulk_frame(connection, _NOTICE_QUERY, bounds, _NOTICE_SCHEMA)


def outbox_rows(db: Any, changed: pl.DataFrame) -> pa.Table | None:
    """The outbox rows of the notices of ``changed`` (:func:`changed_decisions`), rendered as
    ``cardpilot.notify.outbox.enqueue_notices`` does; contact preferences and reachable
    channels are read through ``db`` (the SQLAlchemy engine; the review does not write
    customers). None when there is nothing to queue."""
    from sqlalchemy.orm import Session

    from cardpilot.notify.compose import default_composer
    from cardpilot.notify.notice import LimitChangeNotice, NoticeReason
    from cardpilot.notify.outbox import _unreachable_channels, render_rows
    from cardpilot.notify.prefs import load_prefs

    if changed.height == 0:
        return None
    notices = []
    for row in changed.iter_rows(named=True):
        codes, zh, en = (
            json.loads(row[c]) for c in ("reason_codes", "reason_texts_zh", "reason_texts_en")
        )
        notices.append(
            LimitChangeNotice(
                decision_id=f"limit_decision:{row['id']}",
                account_id=row["account_id"],
                customer_id=row["customer_id"],
                currency=row["currency"] or "CNY",
                effective_date=row["as_of"],
                old_limit_minor=int(row["old_limit_minor"]),
                new_limit_minor=int(row["new_limit_minor"]),
                reasons=tuple(NoticeReason(c, z, e) for c, z, e in zip(codes, zh, en, strict=True)),
                policy_version=row["policy_version"],
            )
        )
    now = dt.datetime.now(dt.UTC)
    customers = {n.customer_id for n in notices}
    with Session(bind=db) as session:
        prefs = dict(load_prefs(session, customers))
        unreachable = _unreachable_channels(session, customers)
    rows = render_rows(notices, prefs, default_composer(), now)
    rows = [r for r in rows if r["channel"] not in unreachable.get(r["customer_id"], ())]
    if not rows:
        return None
    timestamps = ("next_attempt_at", "created_at")
    schema = pa.schema(
        [
            pa.field(c, pa.timestamp("us", "UTC"))
            if c in timestamps
            else pa.field(c, pa.int64() if c == "attempts" else pa.string())
            for c in _OUTBOX_COLUMNS
        ]
    )
    return pa.Table.from_pylist([{c: r[c] for c in _OUTBOX_COLUMNS} for r in rows], schema)


def insert_outbox(connection: Any, table: pa.Table | None) -> None:
    """Stage the outbox rows and insert them, skipping message keys already queued."""
    if table is None or table.num_rows == 0:
        return
    ingest(connection, _NOTICE_STAGE, table, mode="replace", temporary=True)
    cols = ", ".join(_OUTBOX_COLUMNS)
    run(
        connection,
        f"INSERT INTO notify_outbox ({cols}) SELECT {cols} FROM {_NOTICE_STAGE} WHERE true"
        " ON CONFLICT (message_key) DO NOTHING",
        {},
    )


def _main(role: str) -> int:
    """Entry of the helper processes (``python -m cardpilot.jobs.review_bulk reader|writer``)."""
    requests, replies = sys.stdin.buffer, sys.stdout.buffer
    # Nothing but pickled messages may reach the review through stdout.
    sys.stdout = sys.stderr
    first = pickle.load(requests)
    if role == "reader":
        url, job = first
        _reader_main(url, job, requests, replies)
    else:
        _writer_main(first, requests, replies)
    return 0


if __name__ == "__main__":
    # Under its own name, so what it pickles (ChunkWritten, …) unpickles in the review.
    from cardpilot.jobs.review_bulk import _main as main

    raise SystemExit(main(sys.argv[1]))
