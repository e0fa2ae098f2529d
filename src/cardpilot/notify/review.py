"""Notices of stored limit-review decisions (``limit_decisions``), for catch-up and the demo.

The review job is meant to call ``enqueue_notices`` in its own transaction, next to its
decision inserts. This reads decisions already stored and queues their notices; the message
key is derived from the decision id, so running it again (or after the review queued them
itself) adds nothing.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

from sqlalchemy import Connection, inspect, text
from sqlalchemy.orm import Session

from cardpilot.notify.notice import LimitChangeNotice, NoticeReason
from cardpilot.store.review_models import TEXT_SETS_JOIN, cycle_decisions, decision_texts

_QUERY = f"""
SELECT d.id, d.account_id, a.customer_id, a.currency, d.as_of, d.old_limit_minor,
       d.new_limit_minor, d.reason_codes, {decision_texts("zh")} AS reason_texts_zh,
       {decision_texts("en")} AS reason_texts_en, d.policy_version, d.cycle_id
FROM limit_decisions d JOIN accounts a ON a.account_id = d.account_id
{TEXT_SETS_JOIN}
WHERE d.new_limit_minor <> d.old_limit_minor {{extra}}
ORDER BY d.id
"""


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
) -> Iterator[LimitChangeNotice]:
    """Notices of the stored decisions that changed a limit (or all, with ``include_keeps``)."""
    if not has_decisions(db):
        return
    extra, params = "", dict[str, object]()
    if account_id is not None:
        extra += " AND d.account_id = :account_id"
        params["account_id"] = account_id
    if cycle_id is not None:
        extra += f" AND {cycle_decisions('d')}"
        params["cycle"] = cycle_id
    if run_id is not None:
        extra += " AND d.run_id = :run_id"
        params["run_id"] = run_id
    if account_range is not None:
        extra += " AND d.account_id BETWEEN :lo AND :hi"
        params["lo"], params["hi"] = account_range
    sql = _QUERY.format(extra=extra)
    if include_keeps:
        sql = sql.replace("d.new_limit_minor <> d.old_limit_minor", "1 = 1")
    for row in db.execute(text(sql), params):
        as_of = row[4] if isinstance(row[4], dt.date) else dt.date.fromisoformat(str(row[4]))
        codes, zh, en = (json.loads(row[i]) for i in (7, 8, 9))
        yield LimitChangeNotice(
            decision_id=f"limit_decision:{row[0]}",
            account_id=row[1],
            customer_id=row[2],
            currency=row[3] or "CNY",
            effective_date=as_of,
            old_limit_minor=int(row[5]),
            new_limit_minor=int(row[6]),
            reasons=tuple(NoticeReason(c, z, e) for c, z, e in zip(codes, zh, en, strict=True)),
            policy_version=row[10],
        )
