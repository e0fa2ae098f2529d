"""Rendered notices into the outbox (``notify_outbox``) as a table, in the caller's
transaction: a message key already queued is skipped, so a chunk written again adds nothing.
And the dispatcher's outcomes (sent, to retry, dead, held) written back, with the delivery log."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from sqlalchemy import Connection, Engine, bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from cardpilot.store.adbc_statements import execute_named
from cardpilot.store.bulk import ingest
from cardpilot.store.notify_models import DeliveryAttempt, OutboxMessage

OUTBOX_COLUMNS = (
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
_TIMESTAMPS = ("next_attempt_at", "created_at")
OUTBOX_SCHEMA = pa.schema(
    [
        pa.field(c, pa.timestamp("us", "UTC"))
        if c in _TIMESTAMPS
        else pa.field(c, pa.int64() if c == "attempts" else pa.string())
        for c in OUTBOX_COLUMNS
    ]
)
_STAGE = "review_stage_outbox"


def outbox_table(rows: list[dict[str, Any]]) -> pa.Table:
    """Rendered outbox rows (``OUTBOX_COLUMNS``) as one Arrow table."""
    return pa.Table.from_pylist([{c: r[c] for c in OUTBOX_COLUMNS} for r in rows], OUTBOX_SCHEMA)


def insert_outbox_adbc(connection: Any, table: pa.Table | None) -> None:
    """On an ADBC connection: stage the rows and insert them."""
    if table is None or table.num_rows == 0:
        return
    ingest(connection, _STAGE, table, mode="replace", temporary=True)
    cols = ", ".join(OUTBOX_COLUMNS)
    execute_named(
        connection,
        f"INSERT INTO notify_outbox ({cols}) SELECT {cols} FROM {_STAGE} WHERE true"
        " ON CONFLICT (message_key) DO NOTHING",
        {},
    )


def insert_outbox(conn: Connection, table: pa.Table | None) -> None:
    """On a SQLAlchemy connection (in its open transaction)."""
    if table is None or table.num_rows == 0:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(OutboxMessage).on_conflict_do_nothing(index_elements=["message_key"])
    rows = table.to_pylist()
    for start in range(0, len(rows), 5000):
        conn.execute(statement, rows[start : start + 5000])


def record_outcomes(
    conn: Connection,
    sent: list[dict[str, Any]],
    others: list[dict[str, Any]],
    log: list[dict[str, Any]],
) -> None:
    """In ``conn``'s transaction: ``sent`` rows (``b_id``, ``b_ref``, ``b_at``) become
    ``sent``; ``others`` (``b_id``, ``b_state``, ``b_next``, ``b_err``, ``b_attempts``) go to
    their state only while still ``sending`` (a dispatcher that took over after our lease ran
    out may have sent it meanwhile); ``log`` rows go to the delivery log."""
    t = OutboxMessage
    if sent:
        conn.execute(
            update(t)
            .where(t.id == bindparam("b_id"))
            .values(
                state="sent",
                sent_at=bindparam("b_at"),
                provider_ref=bindparam("b_ref"),
                lease_owner=None,
                lease_until=None,
                last_error=None,
            ),
            sent,
        )
    if others:
        conn.execute(
            update(t)
            .where(t.id == bindparam("b_id"), t.state == "sending")
            .values(
                state=bindparam("b_state"),
                next_attempt_at=bindparam("b_next"),
                last_error=bindparam("b_err"),
                attempts=bindparam("b_attempts"),
                lease_owner=None,
                lease_until=None,
            ),
            others,
        )
    if log:
        conn.execute(insert(DeliveryAttempt), log)


def queued_keys(conn: Connection, keys: list[str]) -> set[str]:
    """The message keys of ``keys`` already in the outbox."""
    found: set[str] = set()
    for start in range(0, len(keys), 500):
        found.update(
            conn.execute(
                select(OutboxMessage.message_key).where(
                    OutboxMessage.message_key.in_(keys[start : start + 500])
                )
            ).scalars()
        )
    return found


def latest_message_body(
    db: Engine, decision_ref_prefix: str, channel: str
) -> tuple[str, str] | None:
    """(message type, body text) of the newest outbox message on ``channel`` whose decision
    reference starts with ``decision_ref_prefix``; None when there is none."""
    with db.connect() as conn:
        row = conn.execute(
            select(OutboxMessage.message_type, OutboxMessage.body_text)
            .where(
                OutboxMessage.decision_ref.like(f"{decision_ref_prefix}%"),
                OutboxMessage.channel == channel,
            )
            .order_by(OutboxMessage.id.desc())
            .limit(1)
        ).first()
    return None if row is None else (str(row[0]), str(row[1]))
