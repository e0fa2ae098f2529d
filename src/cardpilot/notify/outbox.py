"""Enqueueing notices in the caller's transaction (the transactional outbox).

``enqueue_notice(session, decision)`` adds the rendered messages to the session the caller
uses for the decision itself; both commit or neither does. The idempotency key is derived from
(decision, message type, channel), so enqueueing the same decision twice (a review re-run after
a crash) adds nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from cardpilot.notify.compose import Composer, RenderedMessage
from cardpilot.notify.notice import LimitChangeNotice, as_notice
from cardpilot.notify.prefs import ContactPrefs, load_prefs
from cardpilot.store.notify_models import OutboxMessage


def message_key(decision_id: str, message_type: str, channel: str) -> str:
    """Stable idempotency key of one message: the same decision never yields two."""
    digest = hashlib.sha256(f"{decision_id}\x1f{message_type}\x1f{channel}".encode()).hexdigest()
    return f"cp{digest[:40]}"


def _row(notice: LimitChangeNotice, msg: RenderedMessage, now: dt.datetime) -> dict[str, Any]:
    return {
        "message_key": message_key(notice.decision_id, msg.message_type, msg.channel),
        "customer_id": notice.customer_id,
        "account_id": notice.account_id,
        "decision_ref": notice.decision_id,
        "message_type": msg.message_type,
        "category": msg.category,
        "channel": msg.channel,
        "locale": msg.locale,
        "subject": msg.subject,
        "body_text": msg.body_text,
        "body_html": msg.body_html,
        "policy_version": notice.policy_version,
        "templates_version": msg.templates_version,
        "state": "queued",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


def render_rows(
    notices: Iterable[LimitChangeNotice],
    prefs: Mapping[str, ContactPrefs],
    composer: Composer,
    now: dt.datetime,
    channels: tuple[str, ...] | None = None,
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for notice in notices:
        p = prefs.get(notice.customer_id, ContactPrefs())
        category = composer.policy.category_of(notice.message_type)
        if not p.accepts(category):
            continue
        for channel in channels or p.channels_for(composer.policy, notice.message_type):
            msg = composer.render(notice, channel, p.locale or "zh-CN")
            rows.append(_row(notice, msg, now))
    return rows


def insert_rows(session: Session, rows: list[dict[str, Any]]) -> int:
    """Insert outbox rows, skipping keys already there; returns the rows offered."""
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    stmt: Any
    if dialect == "postgresql":
        stmt = postgresql.insert(OutboxMessage).on_conflict_do_nothing(
            index_elements=["message_key"]
        )
    elif dialect == "sqlite":
        stmt = sqlite.insert(OutboxMessage).on_conflict_do_nothing(index_elements=["message_key"])
    else:
        stmt = insert(OutboxMessage)
    for start in range(0, len(rows), 5000):
        session.execute(stmt, rows[start : start + 5000])
    return len(rows)


def enqueue_notice(
    session: Session,
    decision: LimitChangeNotice | Mapping[str, Any],
    *,
    prefs: ContactPrefs | None = None,
    channels: tuple[str, ...] | None = None,
    composer: Composer | None = None,
    now: dt.datetime | None = None,
) -> list[str]:
    """Queue the notice of ``decision`` in ``session``'s transaction; returns the message keys
    (none when the customer opted out of an optional message type)."""
    return enqueue_notices(
        session,
        [as_notice(decision)],
        prefs={as_notice(decision).customer_id: prefs} if prefs else None,
        channels=channels,
        composer=composer,
        now=now,
    )


def enqueue_notices(
    session: Session,
    decisions: Iterable[LimitChangeNotice | Mapping[str, Any]],
    *,
    prefs: Mapping[str, ContactPrefs] | None = None,
    channels: tuple[str, ...] | None = None,
    composer: Composer | None = None,
    now: dt.datetime | None = None,
) -> list[str]:
    """Queue many notices in ``session``'s transaction (bulk insert)."""
    notices = [as_notice(d) for d in decisions]
    composer = composer or Composer()
    # Stored as UTC: SQLite keeps the wall time only, so every timestamp must be in one zone.
    now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    given = prefs or {}
    # The preferences the caller gave are those it read: only the others are read here.
    known = dict(
        load_prefs(session, (n.customer_id for n in notices if n.customer_id not in given))
    )
    known.update(given)
    rows = render_rows(notices, known, composer, now, channels)
    unreachable = unreachable_channels(session, {n.customer_id for n in notices})
    # A channel with no address on file is not queued at all: it could only ever go dead.
    rows = [r for r in rows if r["channel"] not in unreachable.get(r["customer_id"], ())]
    insert_rows(session, rows)
    return [r["message_key"] for r in rows]


def unreachable_channels(session: Session, customer_ids: set[str]) -> dict[str, set[str]]:
    """Per customer, the channels with no address on file (read without decrypting anything).

    In-app messages go to the customer id, so they are always reachable.
    """
    from sqlalchemy import select

    from cardpilot.store.models import Customer

    out: dict[str, set[str]] = {}
    ids = sorted(customer_ids)
    for start in range(0, len(ids), 5_000):
        query = select(
            Customer.customer_id, Customer.phone_enc.is_(None), Customer.email_enc.is_(None)
        ).where(Customer.customer_id.in_(ids[start : start + 5_000]))
        for cid, no_phone, no_email in session.execute(query):
            missing = {ch for ch, gone in (("sms", no_phone), ("email", no_email)) if gone}
            if missing:
                out[cid] = missing
    return out
