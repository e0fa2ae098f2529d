"""The review's ADBC side of a SQLite store, in helper processes.

Python's sqlite3 (SQLAlchemy's driver) and ADBC each carry their own copy of SQLite. Two copies
in one process must never open one database file: each takes the other's POSIX locks for its
own, so the last of one copy to close checkpoints and deletes the WAL under the other's open
connections (sqlite.org/howtocorrupt.html 2.2). On SQLite the review's ADBC connections
therefore live in helper processes (a reader and a writer); between processes the locks work.
Messages go through ``cardpilot.store.handoff``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import suppress
from typing import IO, Any

import polars as pl
import pyarrow as pa

from cardpilot.store import adbc_decisions
from cardpilot.store.account_chunks import AccountChunk, read_chunks_with
from cardpilot.store.adbc_statements import is_sqlite_connection
from cardpilot.store.bulk import bulk_connection, execute
from cardpilot.store.frame_reads import FrameSchema, adbc_frame
from cardpilot.store.handoff import handoff_directory, receive_message, send_message
from cardpilot.store.limit_decisions import ChunkWritten, DecisionChunk
from cardpilot.store.outbox_rows import insert_outbox_adbc
from cardpilot.store.wal_checkpoint import checkpointing

# The helpers' own Polars work is a few conversions per chunk; a pool of Polars threads in
# each of them would only wait (and spin) beside the review's threads on the same cores.
HELPER_POLARS_THREADS = "1"
# The outbox rows of a chunk's limit changes (read back inside its transaction), or None.
NoticeRenderer = Callable[[pl.DataFrame], pa.Table | None]


def start_helper(role: str) -> subprocess.Popen[bytes]:
    """``python -m cardpilot.store.sqlite_helpers ROLE`` (``reader`` | ``writer``): messages on
    stdin and stdout. A plain child process (not ``multiprocessing``, which re-imports the
    caller's main module); its stderr is the review's. Started early, its start-up (an
    interpreter, Polars, ADBC) overlaps the review's own preparations."""
    return subprocess.Popen(
        [sys.executable, "-m", "cardpilot.store.sqlite_helpers", role],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={**os.environ, "POLARS_MAX_THREADS": HELPER_POLARS_THREADS},
    )


def prepare_reader(connection: Any) -> None:
    """Memory-mapped reads on SQLite: the chunk reads touch every page of the statements."""
    if is_sqlite_connection(connection):
        execute(connection, "PRAGMA mmap_size=4294967296")


# --------------------------------------------------------------------------- reader


def _serve_chunks(url: str, job: dict[str, Any], requests: IO[bytes], out: IO[bytes]) -> None:
    """Read the chunks with ADBC and hand them over, one at a time: after each chunk wait for
    the review to take it before reading the next, so at most one waits in shared memory."""
    try:
        with bulk_connection(url) as connection, handoff_directory() as folder:
            prepare_reader(connection)

            def fetch(sql: str, params: Mapping[str, Any], schema: FrameSchema) -> pl.DataFrame:
                return adbc_frame(connection, sql, params, schema)

            for chunk in read_chunks_with(fetch, connection.rollback, True, **job):
                send_message(out, chunk, folder)
                if receive_message(requests) != "next":  # the review stopped
                    return
    except (BrokenPipeError, EOFError):  # the review stopped reading
        return
    except BaseException as exc:  # raised in the review process
        send_message(out, RuntimeError(f"reading the chunks failed: {type(exc).__name__}: {exc}"))
        return
    send_message(out, None)


def remote_chunks(
    url: str, process: subprocess.Popen[bytes] | None = None, **job: Any
) -> Iterator[AccountChunk]:
    """The chunks, read by a reader helper (``process``, or a new one); it stops when this
    generator does."""
    process = process or start_helper("reader")
    assert process.stdin is not None
    assert process.stdout is not None
    try:
        send_message(process.stdin, (url, job))
        while True:
            item = receive_message(process.stdout)
            if item is None:
                break
            if isinstance(item, BaseException):
                raise item
            send_message(process.stdin, "next")
            yield item
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        process.stdin.close()
        process.stdout.close()


# --------------------------------------------------------------------------- writer


def _serve_writes(url: str, requests: IO[bytes], replies: IO[bytes]) -> None:
    """Write each chunk, then commit it when the review says so. The review's process gone
    (killed) before that: the transaction rolls back."""
    with (
        adbc_decisions.writer_connection(url) as connection,
        checkpointing(url, connection) as checkpoint,
    ):
        while True:
            checkpoint.bound()
            try:
                message = receive_message(requests)
            except EOFError:
                return
            if message is None:
                return
            chunk, with_notices = message
            try:
                written = adbc_decisions.write_decisions(connection, chunk)
                changed = (
                    adbc_decisions.changed_decisions(connection, chunk) if with_notices else None
                )
                send_message(replies, (written, changed))
                reply = receive_message(requests)
                if not (isinstance(reply, tuple) and reply[0] == "commit"):
                    return
                insert_outbox_adbc(connection, reply[1])
                adbc_decisions.commit_decisions(connection, chunk, written)
                checkpoint.request()
                send_message(replies, "committed")
            except EOFError:
                return
            except BaseException as exc:
                message = f"writing a chunk failed: {type(exc).__name__}: {exc}"
                send_message(replies, RuntimeError(message))
                return


class RemoteDecisionWriter:
    """The decision writer of a SQLite store: an ADBC connection in a writer helper."""

    writes_behind = True

    def __init__(self, url: str, process: subprocess.Popen[bytes] | None = None) -> None:
        self._process = process or start_helper("writer")
        assert self._process.stdin is not None
        assert self._process.stdout is not None
        self._requests, self._replies = self._process.stdin, self._process.stdout
        self._handoff = handoff_directory()
        self._folder = self._handoff.__enter__()
        send_message(self._requests, url)

    def _receive(self) -> Any:
        try:
            reply = receive_message(self._replies)
        except EOFError as exc:
            raise RuntimeError("the review's writer process ended unexpectedly") from exc
        if isinstance(reply, BaseException):
            raise reply
        return reply

    def write(
        self,
        chunk: DecisionChunk,
        *,
        notices: NoticeRenderer | None,
        before_commit: Callable[[], None],
    ) -> ChunkWritten:
        send_message(self._requests, (chunk, notices is not None), self._folder)
        written, changed = self._receive()
        outbox = notices(changed) if notices is not None else None
        before_commit()
        send_message(self._requests, ("commit", outbox))
        self._receive()
        assert isinstance(written, ChunkWritten)
        return written

    def close(self) -> None:
        with suppress(BrokenPipeError, OSError):
            send_message(self._requests, None)
        try:
            self._process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._requests.close()
        self._replies.close()
        self._handoff.__exit__(None, None, None)


def serve(role: str) -> int:
    """Entry of the helper processes: the first message says what to serve."""
    requests, replies = sys.stdin.buffer, sys.stdout.buffer
    # Nothing but messages may reach the review through stdout.
    sys.stdout = sys.stderr
    first = receive_message(requests)
    if role == "reader":
        url, job = first
        _serve_chunks(url, job, requests, replies)
    else:
        _serve_writes(first, requests, replies)
    return 0


if __name__ == "__main__":
    raise SystemExit(serve(sys.argv[1]))
