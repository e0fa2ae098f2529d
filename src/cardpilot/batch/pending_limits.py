"""The pending decreases whose notice period is over, applied: by the review before it reads
any account, and by ``cardpilot limits apply-pending`` (a daily job).

One transaction holds the changes (``cardpilot.store.pending_limits.apply_due``) and, when
anything changed, one audit record of them (``limits.apply_pending``: the as-of date, the batch
id and the counts; the changes themselves are in the store under that batch id).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine

from cardpilot.audit.chain import AuditEntry
from cardpilot.config import get_settings
from cardpilot.store.audit import append_audit, audited_transaction, default_actor
from cardpilot.store.pending_limits import AppliedChanges, apply_due


def apply_pending_limits(
    db: Engine,
    as_of: dt.date,
    *,
    zone: str | None = None,
    actor: str | None = None,
    now: dt.datetime | None = None,
) -> AppliedChanges:
    """Apply every pending limit change effective on or before ``as_of``; idempotent."""
    zone = zone or get_settings().timezone
    now = now or dt.datetime.now(dt.UTC)
    with audited_transaction(db) as conn:
        applied = apply_due(conn, as_of, zone=zone, now=now)
        if applied.changed:
            payload = applied.as_json()
            subject = f"pending_limits:{applied.batch}"
            entry = AuditEntry(
                actor or default_actor(), "limits.apply_pending", subject, payload, after=payload
            )
            append_audit(conn, entry, now)
    return applied
