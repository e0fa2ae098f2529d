"""Notices from stored decision rows, and their outbox rows rendered in bulk.

One function turns rows of decisions into notices, whatever decided them: a limit review's
decisions (``limit_decision:<id>``) or an overdue treatment's (``overdue_treatment:<id>``, with
its own message type and the extra facts its templates show). The rows carry ``id``,
``account_id``, ``customer_id``, ``currency``, ``as_of``, ``old_limit_minor``,
``new_limit_minor``, ``policy_version`` and the reason lists ``reason_codes``,
``reason_texts_zh`` and ``reason_texts_en`` (lists, or JSON array text as stored).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping
from typing import Any

import polars as pl
import pyarrow as pa
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from cardpilot.notify.compose import Composer, default_composer
from cardpilot.notify.notice import LimitChangeNotice, NoticeReason
from cardpilot.notify.outbox import render_rows, unreachable_channels
from cardpilot.notify.prefs import load_prefs
from cardpilot.store.outbox_rows import outbox_table

# A row's extra facts for its message type's templates (``LimitChangeNotice.extra``).
ExtraFacts = Callable[[Mapping[str, Any]], Mapping[str, Any]]


def _reason_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [str(v) for v in json.loads(value)]
    return [str(v) for v in value]


def notices_from_rows(
    rows: pl.DataFrame,
    *,
    decision_kind: str = "limit_decision",
    message_type: str = "limit_change",
    default_currency: str = "CNY",
    extra: ExtraFacts | None = None,
) -> list[LimitChangeNotice]:
    """One notice per decision row (see the module), in row order; ``decision_kind`` names
    the decision in the notice's reference (``<kind>:<id>``), which keys its messages."""
    notices = []
    for row in rows.iter_rows(named=True):
        codes, zh, en = (
            _reason_list(row[c]) for c in ("reason_codes", "reason_texts_zh", "reason_texts_en")
        )
        effective = row["as_of"]
        if not isinstance(effective, dt.date):
            effective = dt.date.fromisoformat(str(effective)[:10])
        notices.append(
            LimitChangeNotice(
                decision_id=f"{decision_kind}:{row['id']}",
                account_id=row["account_id"],
                customer_id=row["customer_id"],
                currency=row["currency"] or default_currency,
                effective_date=effective,
                old_limit_minor=int(row["old_limit_minor"]),
                new_limit_minor=int(row["new_limit_minor"]),
                reasons=tuple(NoticeReason(c, z, e) for c, z, e in zip(codes, zh, en, strict=True)),
                policy_version=row["policy_version"],
                message_type=message_type,
                extra=dict(extra(row)) if extra is not None else {},
            )
        )
    return notices


def outbox_rows(
    db: Engine,
    notices: list[LimitChangeNotice],
    composer: Composer | None = None,
    now: dt.datetime | None = None,
) -> pa.Table | None:
    """The outbox rows of ``notices``, rendered as ``cardpilot.notify.outbox.enqueue_notices``
    renders them (contact preferences, reachable channels only), as one table for a bulk
    insert; None when there is nothing to queue. Preferences and addresses are read through
    ``db`` (a batch job writes no customers)."""
    if not notices:
        return None
    now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    customers = {n.customer_id for n in notices}
    with Session(bind=db) as session:
        prefs = dict(load_prefs(session, customers))
        unreachable = unreachable_channels(session, customers)
    rows = render_rows(notices, prefs, composer or default_composer(), now)
    rows = [r for r in rows if r["channel"] not in unreachable.get(r["customer_id"], ())]
    return outbox_table(rows) if rows else None


def limit_change_outbox(db: Engine, changed: pl.DataFrame) -> pa.Table | None:
    """The outbox rows of a review chunk's limit changes (rows as above)."""
    return outbox_rows(db, notices_from_rows(changed))
