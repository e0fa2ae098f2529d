"""Checkpoints of a SQLite writer's WAL on a thread of their own, while the writer goes on.

After each commit SQLite's own checkpoint (``wal_autocheckpoint``) copies the chunk's pages into
the database file and syncs it, on the committing connection: the writer would wait for the
disk before it can take the next chunk. Here the writer's connection leaves that to a second
connection on this thread (``PRAGMA wal_checkpoint(PASSIVE)``, which never blocks the writer or
the readers), so the copy and the sync overlap the next chunk's statements. Committed chunks
are durable in the WAL either way (https://sqlite.org/wal.html#ckpt).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from cardpilot.store import adbc_statements as adbc
from cardpilot.store.db import normalise_url

# Past this size the writer's WAL is checkpointed and restarted before the next chunk; the
# file is cut back to it when it restarts (``journal_size_limit``).
WAL_LIMIT_BYTES = 1024 * 1024 * 1024


class WalCheckpointer:
    """``request()`` after each commit, ``bound()`` before each chunk (see the module)."""

    def __init__(self, url: str, writer: Any, wal_limit_bytes: int) -> None:
        import adbc_driver_sqlite.dbapi as sqlite_dbapi

        database = normalise_url(url).database or ""
        self._wal = Path(f"{database}-wal")
        self._limit = wal_limit_bytes
        self._writer = writer
        self._connection = sqlite_dbapi.connect(database, autocommit=True)
        adbc.set_pragmas(self._connection, "busy_timeout=30000")
        self._wanted = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._closing = False
        self._thread = threading.Thread(
            target=self._checkpoint_when_asked, name="review-checkpoint", daemon=True
        )
        self._thread.start()

    def request(self) -> None:
        self._idle.clear()
        self._wanted.set()

    def bound(self) -> None:
        """Before the writer's next chunk: a WAL grown past the limit is checkpointed to its
        end and started again from its beginning (``RESTART``: waits for the reader to finish
        the chunk it is reading). With the checkpoints running beside the writer, SQLite would
        otherwise never find the WAL wholly copied when a chunk begins, and the file would grow
        by the whole review (about 1 KB per account)."""
        with suppress(OSError):
            if self._wal.stat().st_size <= self._limit:
                return
        self._idle.wait()
        with suppress(Exception):  # busy: the next chunk tries again
            adbc.pragma_value(self._writer, "wal_checkpoint(RESTART)")

    def _checkpoint_when_asked(self) -> None:
        while True:
            self._wanted.wait()
            self._wanted.clear()
            if self._closing:
                return
            with suppress(Exception):  # a busy database: the next request or SQLite retries
                adbc.pragma_value(self._connection, "wal_checkpoint(PASSIVE)")
            if not self._wanted.is_set():
                self._idle.set()

    def close(self) -> None:
        self._closing = True
        self._wanted.set()
        self._thread.join()
        try:
            adbc.pragma_value(self._connection, "wal_checkpoint(PASSIVE)")
        finally:
            self._connection.close()


@contextmanager
def checkpointing(
    url: str, connection: Any, wal_limit_bytes: int = WAL_LIMIT_BYTES
) -> Iterator[WalCheckpointer]:
    """The writer ``connection``'s checkpoints on a thread of their own."""
    adbc.set_pragmas(connection, "wal_autocheckpoint=0", f"journal_size_limit={wal_limit_bytes}")
    checkpointer = WalCheckpointer(url, connection, wal_limit_bytes)
    try:
        yield checkpointer
    finally:
        checkpointer.close()
