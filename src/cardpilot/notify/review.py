"""Notices of stored limit-review decisions (``limit_decisions``), for catch-up and the demo.

The review queues its notices itself, in each chunk's transaction. This reads decisions
already stored and turns them into notices; the message key is derived from the decision id,
so queuing them again (or after the review queued them itself) adds nothing.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import Connection, inspect
from sqlalchemy.orm import Session

from cardpilot.notify.decision_notices import (
    LimitNoticeContext,
    limit_notice_context,
    notices_from_rows,
)
from cardpilot.notify.notice import LimitChangeNotice
from cardpilot.store.limit_decisions import read_limit_changes


def has_decisions(db: Session | Connection) -> bool:
    bind = db.connection() if isinstance(db, Session) else db
    return bool(inspect(bind).has_table("limit_decisions"))


def stored_limit_notices(
    db: Session | Connection,
    *,
    account_id: str | None = None,
    cycle_id: str | None = None,
    run_id: int | None = None,
    account_range: tuple[str, str] | None = None,
    include_keeps: bool = False,
    context: LimitNoticeContext | None = None,
) -> Iterator[LimitChangeNotice]:
    """Notices of the stored decisions that changed a limit (or all, with ``include_keeps``);
    ``context``: the limit policy's rules and the notice period (default: grade names and the
    period from notify.yaml, no figures)."""
    if not has_decisions(db):
        return
    conn = db.connection() if isinstance(db, Session) else db
    rows = read_limit_changes(
        conn,
        account_id=account_id,
        cycle_id=cycle_id,
        run_id=run_id,
        account_range=account_range,
        include_keeps=include_keeps,
    )
    yield from notices_from_rows(rows, context=context or limit_notice_context())
