"""The event intake in the store: what a batch needs to know, and its one write.

``read_lookups`` reads, for one batch, the event ids already received, the sequences their
accounts' applied events hold, the accounts' running features and which accounts exist.
``write_batch`` writes the batch's ledger postings (insert-or-ignore on their ``ev:`` keys), its
receipts and the accounts' new features in the caller's transaction; the consumer acknowledges
the messages only after that transaction commits.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.dialects import postgresql, sqlite

from cardpilot.events.features import AccountFeatures, features_from_json
from cardpilot.events.intake import APPLIED, BatchLookups, BatchPlan, Receipt
from cardpilot.ledger.postings import Posting, posting_row
from cardpilot.store.event_models import EventAccountFeatures, EventReceipt
from cardpilot.store.ledger_models import LedgerPosting
from cardpilot.store.models import Account
from cardpilot.store.notify_models import OutboxMessage
from cardpilot.store.warning_models import WarningIntervention

# Values bound in one IN list (well under SQLite's limit of 32,766 variables).
IN_CHUNK = 5_000


def _chunks(values: Iterable[Any]) -> Iterator[list[Any]]:
    items = sorted(values)
    for start in range(0, len(items), IN_CHUNK):
        yield items[start : start + IN_CHUNK]


def read_lookups(
    conn: Connection,
    event_ids: set[str],
    account_ids: set[str],
    sequences: set[int],
    held: Mapping[str, AccountFeatures] | None = None,
) -> BatchLookups:
    """What the store knows about a batch with these ids, accounts and sequences; the features
    of accounts in ``held`` (the consumer's own, committed states) are not read again."""
    r = EventReceipt.__table__.c
    received: dict[str, Receipt] = {}
    taken: dict[tuple[str, int], str] = {}
    for ids in _chunks(event_ids):
        query = select(r.event_id, r.account_id, r.sequence, r.outcome, r.kind, r.field, r.reason)
        for row in conn.execute(query.where(r.event_id.in_(ids))):
            received[row[0]] = Receipt(*row)
    for accounts in _chunks(account_ids):
        query = select(r.account_id, r.sequence, r.event_id).where(
            r.account_id.in_(accounts), r.sequence.in_(sorted(sequences)), r.outcome == APPLIED
        )
        taken.update({(str(row[0]), int(row[1])): str(row[2]) for row in conn.execute(query)})
    return BatchLookups(
        received=received,
        taken=taken,
        states={
            **account_features(conn, account_ids - set(held or ())),
            **{a: held[a] for a in account_ids if held and a in held},
        },
        accounts=frozenset(existing_accounts(conn, account_ids)),
    )


def existing_accounts(conn: Connection, account_ids: Iterable[str]) -> set[str]:
    a = Account.__table__.c
    found: set[str] = set()
    for ids in _chunks(account_ids):
        found.update(conn.execute(select(a.account_id).where(a.account_id.in_(ids))).scalars())
    return found


def account_features(
    conn: Connection, account_ids: Iterable[str] | None = None
) -> dict[str, AccountFeatures]:
    """The running features of ``account_ids`` that have any (all accounts when None)."""
    f = EventAccountFeatures.__table__.c
    query = select(f.account_id, f.state)
    if account_ids is None:
        return {a: features_from_json(s) for a, s in conn.execute(query.order_by(f.account_id))}
    out: dict[str, AccountFeatures] = {}
    for ids in _chunks(account_ids):
        out.update(
            {a: features_from_json(s) for a, s in conn.execute(query.where(f.account_id.in_(ids)))}
        )
    return out


def _upsert(conn: Connection, table: Any, rows: list[dict[str, Any]], key: str) -> None:
    if not rows:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table)
    updates: dict[str, Any] = {c: statement.excluded[c] for c in rows[0] if c != key}
    if "updated_at" in table.c:
        updates["updated_at"] = func.now()
    conn.execute(statement.on_conflict_do_update(index_elements=[key], set_=updates), rows)


def _insert_new(conn: Connection, table: Any, rows: list[dict[str, Any]], key: str) -> None:
    if not rows:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(dialect.insert(table).on_conflict_do_nothing(index_elements=[key]), rows)


def feature_row(state: AccountFeatures, months: int) -> dict[str, Any]:
    return {
        "account_id": state.account_id,
        "last_sequence": state.last_sequence,
        "last_occurred_at": state.last_occurred_at,
        "events_applied": state.events_applied,
        "utilisation_bp": state.utilisation_bp,
        "spend_ratio_bp": state.spend_ratio_bp(months),
        "payment_days_before_due": state.payment_days_before_due,
        "state": state.to_json(),
    }


def posting_rows(postings: Sequence[Posting]) -> list[dict[str, Any]]:
    """``ledger_postings`` rows of ``postings`` (``effective_at`` in UTC)."""
    return [posting_row(p) for p in postings]


def write_batch(conn: Connection, plan: BatchPlan, months: int) -> int:
    """The batch's postings, receipts and features, in the caller's transaction; returns the
    postings written.

    The postings go in as one insert-or-ignore on their keys, without reading back what was
    added: an applied event's receipt is written in the same transaction, so its postings are
    new whenever its receipt is.
    """
    _insert_new(conn, LedgerPosting.__table__, posting_rows(plan.postings), "idempotency_key")
    added = len(plan.postings)
    receipts = [
        {
            "event_id": r.event_id,
            "account_id": r.account_id,
            "sequence": r.sequence,
            "outcome": r.outcome,
            "kind": r.kind,
            "field": r.field,
            "reason": r.reason,
        }
        for r in plan.receipts
    ]
    _insert_new(conn, EventReceipt.__table__, receipts, "event_id")
    rows = [feature_row(s, months) for s in plan.states.values()]
    _upsert(conn, EventAccountFeatures.__table__, rows, "account_id")
    return added


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
    f = EventAccountFeatures.__table__.c
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
    features = conn.execute(select(f.account_id, f.state).order_by(f.account_id)).all()
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
