"""Events for the tests, as JSON dicts and as validated events."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from cardpilot.events.schema import EVENT_ADAPTER, Event

UTC8 = dt.timezone(dt.timedelta(hours=8))
START = dt.datetime(2026, 11, 1, 9, tzinfo=UTC8)


def raw(
    kind: str,
    seq: int,
    *,
    account: str = "A1",
    at: dt.datetime | None = None,
    event_id: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    when = at or START + dt.timedelta(hours=seq)
    data: dict[str, Any] = {
        "schema_version": 1,
        "event_id": event_id or f"{account}-{seq}",
        "account_id": account,
        "sequence": seq,
        "occurred_at": when.isoformat(),
        "type": kind,
    }
    if kind in {"purchase", "cash_advance", "refund", "payment", "reversal"}:
        data |= {"amount_minor": 10_000, "currency": "CNY"}
    if kind == "reversal":
        data |= {"reverses_event_id": "A1-2", "reversed_type": "purchase"}
    if kind == "statement_issued":
        data |= {
            "cycle_date": when.date().isoformat(),
            "due_date": (when + dt.timedelta(days=20)).date().isoformat(),
            "statement_balance_minor": 200_000,
            "minimum_due_minor": 20_000,
            "credit_limit_minor": 1_000_000,
            "currency": "CNY",
        }
    if kind == "contact_outcome":
        data |= {"channel": "sms", "outcome": "reached"}
    return data | fields


def event(kind: str, seq: int, **kw: Any) -> Event:
    return EVENT_ADAPTER.validate_python(raw(kind, seq, **kw))


def line(kind: str, seq: int, **kw: Any) -> bytes:
    return json.dumps(raw(kind, seq, **kw)).encode()
