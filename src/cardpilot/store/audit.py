"""The audit log in the store: appending under a lock, reading in order, checking the chain.

An append reads the last record and writes the next one in the caller's transaction, so the
record commits with the change it describes or not at all. Appends are serialised across
processes so the chain never forks: on SQLite the transaction holds the write lock from its
start (``BEGIN IMMEDIATE``, :func:`audited_transaction`), on PostgreSQL it takes a
transaction-level advisory lock before reading the last record. The unique ``prev_hash``
refuses a fork even without the lock.

The chain itself (canonical form, hashes, what breaks it) is ``cardpilot.audit.chain``.
"""

from __future__ import annotations

import datetime as dt
import getpass
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, DateTime, Engine, bindparam, text

from cardpilot.audit.chain import AuditEntry, AuditRecord, ChainBreak, ChainCheck, next_record

# PostgreSQL advisory lock key of the audit chain ("audit" in ASCII).
AUDIT_LOCK_KEY = 0x61756469_74
ACTOR_ENV = "CARDPILOT_ACTOR"
COLUMNS = (
    "seq",
    "at",
    "actor",
    "action",
    "subject",
    "before_digest",
    "after_digest",
    "payload",
    "payload_digest",
    "prev_hash",
    "hash",
)
_SELECT = f"SELECT {', '.join(COLUMNS)} FROM audit_log"
_INSERT = text(
    f"INSERT INTO audit_log ({', '.join(COLUMNS)}) VALUES ({', '.join(':' + c for c in COLUMNS)})"
).bindparams(bindparam("at", type_=DateTime(timezone=True)))
READ_BATCH = 5_000


def default_actor() -> str:
    """Who is acting: ``CARDPILOT_ACTOR`` (a service sets its caller), else the OS user."""
    return os.environ.get(ACTOR_ENV) or f"os:{getpass.getuser()}"


@contextmanager
def audited_transaction(db: Engine) -> Iterator[Connection]:
    """A transaction that may append to the audit log: committed when the block ends normally.

    SQLite: begun with ``BEGIN IMMEDIATE``, so it waits for the write lock before it reads the
    chain's last record (a deferred transaction that read first could not take the lock later
    and would fail instead of waiting)."""
    with db.connect() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.rollback()
            raise
        conn.commit()


def _record(row: Any) -> AuditRecord:
    values = dict(zip(COLUMNS, row, strict=True))
    at = values["at"]
    if isinstance(at, str):  # SQLite hands back text when read through a raw statement
        at = dt.datetime.fromisoformat(at)
    values["at"] = at
    values["seq"] = int(values["seq"])
    return AuditRecord(**values)


def last_record(conn: Connection) -> AuditRecord | None:
    row = conn.execute(text(f"{_SELECT} ORDER BY seq DESC LIMIT 1")).first()
    return None if row is None else _record(row)


def append_audit(conn: Connection, entry: AuditEntry, at: dt.datetime | None = None) -> AuditRecord:
    """Append ``entry`` in ``conn``'s transaction (see the module for the lock); returns it."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": AUDIT_LOCK_KEY})
    record = next_record(last_record(conn), entry, at or dt.datetime.now(dt.UTC))
    conn.execute(_INSERT, {c: getattr(record, c) for c in COLUMNS})
    return record


def record_audit(db: Engine, entry: AuditEntry) -> AuditRecord:
    """Append ``entry`` in a transaction of its own (for a change already committed)."""
    with audited_transaction(db) as conn:
        return append_audit(conn, entry)


def iter_records(
    db: Engine, *, since: dt.datetime | None = None, until: dt.datetime | None = None
) -> Iterator[AuditRecord]:
    """The records in chain order, read in batches (``since`` ≤ at < ``until`` when given)."""
    where, params = ["seq > :after"], {"after": 0}
    if since is not None:
        where.append("at >= :since")
        params["since"] = since  # type: ignore[assignment]
    if until is not None:
        where.append("at < :until")
        params["until"] = until  # type: ignore[assignment]
    sql = text(f"{_SELECT} WHERE {' AND '.join(where)} ORDER BY seq LIMIT {READ_BATCH}").bindparams(
        *(bindparam(n, type_=DateTime(timezone=True)) for n in ("since", "until") if n in params)
    )
    while True:
        with db.connect() as conn:
            batch = [_record(row) for row in conn.execute(sql, params)]
        yield from batch
        if len(batch) < READ_BATCH:
            return
        params["after"] = batch[-1].seq


def verify_chain(db: Engine) -> tuple[int, ChainBreak | None]:
    """How many records hold, and the first that does not (None: the whole chain holds)."""
    check = ChainCheck()
    check.feed(iter_records(db))
    return check.checked, check.broken


def rewrite_audit_value(db: Engine, seq: int, column: str, value: Any) -> None:
    """Change one stored value of one record in place, as someone tampering with the table
    would: for tests of :func:`verify_chain` only (the log is otherwise append-only)."""
    if column not in COLUMNS:
        raise ValueError(f"audit_log has no column {column!r}")
    with db.begin() as conn:
        conn.execute(
            text(f"UPDATE audit_log SET {column} = :value WHERE seq = :seq"),
            {"value": value, "seq": seq},
        )
