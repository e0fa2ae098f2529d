"""Events for the tests, as JSON dicts and as validated events."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from hypothesis import strategies as st

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


KINDS = [
    "purchase",
    "purchase",
    "cash_advance",
    "refund",
    "payment",
    "payment",
    "reversal",
    "statement_issued",
    "contact_outcome",
]
REVERSED = ["purchase", "cash_advance", "refund", "payment"]


@st.composite
def histories(draw: st.DrawFn) -> list[Event]:
    """Events of up to three accounts, mostly in time order, some late within the window (and
    now and then beyond it), across months, with statements anywhere."""
    n = draw(st.integers(1, 40))
    out: list[Event] = []
    clock = dict.fromkeys(("A1", "A2", "A3"), START)
    for seq in range(1, n + 1):
        account = draw(st.sampled_from(["A1", "A2", "A3"]))
        kind = draw(st.sampled_from(KINDS))
        step = draw(st.sampled_from([0, 1, 5, 60, 600, 3_000, 20_000, 60_000]))
        clock[account] += dt.timedelta(minutes=step)
        back = draw(st.sampled_from([0, 0, 0, 0, 30, 600, 4_000, 5_000]))
        at = clock[account] - dt.timedelta(minutes=back)
        amount = draw(st.integers(1, 400_000))
        fields: dict[str, object] = {"at": at, "account": account, "event_id": f"e{seq}"}
        if kind == "statement_issued":
            fields |= {
                "statement_balance_minor": draw(st.integers(-50_000, 900_000)),
                "minimum_due_minor": draw(st.sampled_from([0, 10_000, 50_000, 200_000])),
                "credit_limit_minor": draw(st.sampled_from([300_000, 1_000_000])),
            }
        elif kind == "reversal":
            fields |= {"amount_minor": amount, "reversed_type": draw(st.sampled_from(REVERSED))}
        elif kind != "contact_outcome":
            fields["amount_minor"] = amount
        else:
            fields["outcome"] = draw(st.sampled_from(["reached", "promise_to_pay"]))
        out.append(event(kind, seq, **fields))
    return out
