"""The event intake in the store: what a batch needs to know, and its one write.

``read_lookups`` reads, for one batch, the event ids already received, the sequences their
accounts' applied events hold, the accounts' running features and which accounts exist.
``write_batch`` writes the batch's ledger postings and receipts (all new: their events were not
received) and the accounts' new features in the caller's transaction; the consumer acknowledges
the messages only after that transaction commits.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from typing import Any

import polars as pl
from sqlalchemy import BigInteger, Connection, Date, DateTime, Integer, String, func, select

from cardpilot.events.feature_frames import states_of
from cardpilot.events.features import AccountFeatures
from cardpilot.events.intake import APPLIED, BatchLookups, BatchPlan, Receipt
from cardpilot.store.event_features import (
    driver_frame,
    driver_rows,
    feature_frame,
    read_features,
)
from cardpilot.store.event_models import EventAccountFeatures, EventReceipt
from cardpilot.store.ledger_models import LedgerPosting
from cardpilot.store.notify_models import OutboxMessage
from cardpilot.store.pg_copy import copy_arrow
from cardpilot.store.value_lists import looked_up
from cardpilot.store.warning_models import WarningIntervention


def _driver_rows(conn: Connection, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    """The rows of ``sql`` through the driver's own cursor (parameters in its style), values
    as the driver gives them: for the thousands of rows a batch's look-ups return, SQLAlchemy's
    result layer cost more than the queries."""
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql, params)
        return list(cursor.fetchall())
    finally:
        cursor.close()


def read_lookups(
    conn: Connection,
    event_ids: set[str],
    account_ids: set[str],
    keys: set[tuple[str, int]],
    held: pl.DataFrame | None = None,
) -> BatchLookups:
    """What the store knows about a batch with these event ids, accounts and (account,
    sequence) keys; the features of accounts in ``held`` (the consumer's own, committed
    states, ``STATE_SCHEMA``) are not read again."""
    dialect = conn.dialect.name
    received: dict[str, Receipt] = {}
    taken: dict[tuple[str, int], str] = {}
    if event_ids:
        query, params = looked_up(
            dialect, "event_receipts", RECEIPT_COLUMNS, ["event_id"], event_ids
        )
        for row in _driver_rows(conn, query, params):
            received[row[0]] = Receipt(*row)
    if held is None or not held.height:
        states = read_features(conn, account_ids)
    else:
        mine = held.filter(pl.col("account_id").is_in(pl.Series(list(account_ids)).implode()))
        unread = account_ids - set(mine.get_column("account_id").to_list())
        states = pl.concat([mine, read_features(conn, unread)]) if unread else mine
    # The exact (account, sequence) pairs of the batch that an applied event can hold: the
    # accounts' other applied events (their whole history) are not read. An account's
    # features are written with its applied events' receipts, their ``last_sequence`` the
    # highest of them: a pair above it (the next events of a stream in order), or of an
    # account without features, is held by none.
    highest = dict(states.select("account_id", "last_sequence").iter_rows())
    asked = {(a, n) for a, n in keys if n <= highest.get(a, 0)}
    if asked:
        query, params = looked_up(
            dialect,
            "event_receipts",
            ["account_id", "sequence", "event_id"],
            ["account_id", "sequence"],
            asked,
            f"r.outcome = '{APPLIED}'",
        )
        taken.update({(str(a), int(n)): str(e) for a, n, e in _driver_rows(conn, query, params)})
    # An account with stored features exists (their foreign key holds it): only the others
    # are looked up (in a running stream, the accounts new to the consumer).
    featured = set(states.get_column("account_id").to_list()) & account_ids
    known = featured | existing_accounts(conn, account_ids - featured)
    return BatchLookups(
        received=received,
        taken=taken,
        states=states,
        # The batch's own strings: the plan's test of each event's account finds its very
        # object, not an equal one made by the driver or the frame.
        accounts=frozenset(a for a in account_ids if a in known),
    )


def existing_accounts(conn: Connection, account_ids: Iterable[str]) -> set[str]:
    ids = list(account_ids)
    if not ids:
        return set()
    query, params = looked_up(conn.dialect.name, "accounts", ["account_id"], ["account_id"], ids)
    return {row[0] for row in _driver_rows(conn, query, params)}


def account_features(
    conn: Connection, account_ids: Iterable[str] | None = None
) -> dict[str, AccountFeatures]:
    """The running features of ``account_ids`` that have any (all accounts when None)."""
    return states_of(read_features(conn, account_ids))


# The columns the intake writes, in the order its rows are built.
POSTING_COLUMNS = (
    "account_id",
    "kind",
    "component",
    "amount_minor",
    "currency",
    "effective_at",
    "effective_on",
    "source",
    "idempotency_key",
    "reference",
    "basis",
    "detail",
)
RECEIPT_COLUMNS = ("event_id", "account_id", "sequence", "outcome", "kind", "field", "reason")


def _pg_type(column_type: Any) -> str:
    """The PostgreSQL type (``format_type`` name, without modifiers) a staged column holds."""
    if isinstance(column_type, BigInteger):
        return "bigint"
    if isinstance(column_type, Integer):
        return "integer"
    if isinstance(column_type, DateTime):
        return "timestamp with time zone"
    if isinstance(column_type, Date):
        return "date"
    if isinstance(column_type, String):
        return "text"
    raise TypeError(f"no staged PostgreSQL type for {column_type!r}")


def _staged(conn: Connection, table: Any, frame: pl.DataFrame) -> str:
    """PostgreSQL: ``frame`` copied (binary ``COPY``, its columns as Arrow) into a temporary
    table shaped like ``table``; returns its name."""
    stage = f"_stage_{table.name}"
    names = ", ".join(frame.columns)
    conn.exec_driver_sql(
        f"CREATE TEMP TABLE IF NOT EXISTS {stage} AS SELECT {names} FROM {table.name} WITH NO DATA"
    )
    conn.exec_driver_sql(f"TRUNCATE {stage}")
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    types = [_pg_type(table.c[c].type) for c in frame.columns]
    copy_arrow(cursor, stage, frame.to_arrow(), types)
    return stage


def _insert_fresh(conn: Connection, table: Any, frame: pl.DataFrame) -> None:
    """Insert ``frame``'s rows (its columns named as ``table``'s, values as the driver takes
    them), none of whose keys is stored: a stored one fails the statement, and the caller's
    transaction with it. PostgreSQL: one binary ``COPY`` straight into ``table`` (no staging
    table, no conflict arbiter: the server inserts the rows in bulk); SQLite: one plain
    ``INSERT`` executemany."""
    if not frame.height:
        return
    if conn.dialect.name == "postgresql":
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        types = [_pg_type(table.c[c].type) for c in frame.columns]
        copy_arrow(cursor, table.name, frame.to_arrow(), types)
        return
    names = ", ".join(frame.columns)
    marks = ", ".join("?" for _ in frame.columns)
    conn.exec_driver_sql(f"INSERT INTO {table.name} ({names}) VALUES ({marks})", driver_rows(frame))


def _upsert(conn: Connection, table: Any, frame: pl.DataFrame, key: str) -> None:
    """Insert ``frame``'s rows (its columns named as ``table``'s, values as the driver takes
    them: ``driver_frame``), or update the stored row of the same ``key`` to them.

    SQLite: one ``INSERT … ON CONFLICT DO UPDATE`` executemany. PostgreSQL: the rows copied
    (binary ``COPY``) into a temporary table, one ``UPDATE … FROM`` it for the stored keys
    and, when some were not stored, one ``INSERT … SELECT`` of the others. With room on the
    rows' pages (``event_account_features``' fill factor) the updates stay on their pages,
    which ``INSERT … ON CONFLICT DO UPDATE`` made cost more; a row of the same key inserted
    meanwhile by another transaction fails the insert (the consumer is the features' one
    writer)."""
    if not frame.height:
        return
    names = ", ".join(frame.columns)
    stamp = ", updated_at = CURRENT_TIMESTAMP" if "updated_at" in table.c else ""
    if conn.dialect.name == "postgresql":
        stage = _staged(conn, table, frame)
        updates = ", ".join(f"{c} = s.{c}" for c in frame.columns if c != key) + stamp
        updated = conn.exec_driver_sql(
            f"UPDATE {table.name} t SET {updates} FROM {stage} s WHERE t.{key} = s.{key}"
        ).rowcount
        if updated == frame.height:  # every key was stored (the frame's keys are distinct)
            return
        conn.exec_driver_sql(
            f"INSERT INTO {table.name} ({names}) SELECT {names} FROM {stage} s"
            f" WHERE NOT EXISTS (SELECT 1 FROM {table.name} t WHERE t.{key} = s.{key})"
        )
        return
    updates = ", ".join(f"{c} = excluded.{c}" for c in frame.columns if c != key) + stamp
    marks = ", ".join("?" for _ in frame.columns)
    conn.exec_driver_sql(
        f"INSERT INTO {table.name} ({names}) VALUES ({marks})"
        f" ON CONFLICT ({key}) DO UPDATE SET {updates}",
        driver_rows(frame),
    )


def posting_frame(postings: pl.DataFrame, dialect: str) -> pl.DataFrame:
    """The ``ledger_postings`` columns (``POSTING_COLUMNS``) of a ``POSTING_SCHEMA`` frame, as
    the driver takes them (``store.event_features.driver_frame``)."""
    return driver_frame(postings.select(POSTING_COLUMNS), dialect)


def receipt_frame(receipts: Sequence[Receipt]) -> pl.DataFrame:
    """The ``event_receipts`` columns (``RECEIPT_COLUMNS``) of ``receipts``."""
    return pl.DataFrame(
        {
            "event_id": [r.event_id for r in receipts],
            "account_id": [r.account_id for r in receipts],
            "sequence": [r.sequence for r in receipts],
            "outcome": [r.outcome for r in receipts],
            "kind": [r.kind for r in receipts],
            "field": [r.field for r in receipts],
            "reason": [r.reason for r in receipts],
        },
        schema=dict.fromkeys(RECEIPT_COLUMNS, pl.String()) | {"sequence": pl.Int64()},
    )


def write_batch(conn: Connection, plan: BatchPlan, months: int) -> int:
    """The batch's postings, receipts and features, in the caller's transaction; returns the
    postings written.

    Each table is one statement over the batch's rows (SQLite: one ``executemany`` through the
    driver; PostgreSQL: one binary ``COPY``). The postings and receipts are plain inserts: the
    plan writes a receipt only for an event id its look-up found no receipt of (in the store,
    or in a batch planned before it and not yet committed: ``stream.batch_intake``), and an
    event's postings (keyed ``ev:<event id>``, a key only the intake writes) are only ever
    written in the transaction that writes its receipt, so both are new.
    A transaction committing the same event meanwhile (a second consumer on the stream) makes
    this one fail on the keys and roll back, unacknowledged: redelivered, its events are
    duplicates. The features are an upsert (on PostgreSQL an update, then an insert of the
    accounts new to the table, from one temporary table).
    """
    dialect = conn.dialect.name
    _insert_fresh(conn, LedgerPosting.__table__, posting_frame(plan.postings, dialect))
    _insert_fresh(conn, EventReceipt.__table__, receipt_frame(plan.receipts))
    if plan.states.height:
        features = feature_frame(plan.states, months, dialect)
        _upsert(conn, EventAccountFeatures.__table__, features, "account_id")
    return plan.postings.height


def receipt_counts(conn: Connection) -> dict[str, int]:
    r = EventReceipt.__table__.c
    rows = conn.execute(select(r.outcome, func.count()).group_by(r.outcome)).all()
    return {str(o): int(n) for o, n in rows}


def _digest(rows: Sequence[Sequence[Any]]) -> str:
    text = json.dumps([[str(v) for v in row] for row in rows], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def intake_digests(conn: Connection) -> dict[str, str]:
    """SHA-256 of what the intake wrote, each in a fixed order and without write times: the
    event postings, the receipts, the features, the early-warning decisions and the outbox
    (the exactly-once tests compare them)."""
    p = LedgerPosting.__table__.c
    o = OutboxMessage.__table__.c
    r = EventReceipt.__table__.c
    postings = conn.execute(
        select(
            p.idempotency_key,
            p.account_id,
            p.kind,
            p.component,
            p.amount_minor,
            p.currency,
            p.effective_on,
            p.reference,
            p.detail,
        )
        .where(p.source == "event")
        .order_by(p.idempotency_key)
    ).all()
    receipts = conn.execute(
        select(r.event_id, r.account_id, r.sequence, r.outcome, r.kind, r.field, r.reason).order_by(
            r.event_id
        )
    ).all()
    # The states as the canonical JSON they were once stored as, so the digest is the same
    # whatever columns hold them.
    features = [(a, s.to_json()) for a, s in sorted(account_features(conn).items())]
    outbox = conn.execute(
        select(
            o.message_key, o.account_id, o.decision_ref, o.message_type, o.channel, o.body_text
        ).order_by(o.message_key)
    ).all()
    w = WarningIntervention.__table__.c
    decisions = conn.execute(
        select(
            w.decision_ref, w.account_id, w.rule, w.intervention, w.reasons, w.advice, w.hold_until
        ).order_by(w.decision_ref)
    ).all()
    return {
        "decisions": _digest(decisions),
        "outbox": _digest(outbox),
        "ledger": _digest(postings),
        "receipts": _digest(receipts),
        "features": _digest(features),
    }
