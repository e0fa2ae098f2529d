"""A synthetic month of events for a set of accounts, and the faults a broker adds to it.

``synthetic_month`` writes, per account, a statement at the start of the month followed by
purchases, the odd cash advance, refunds and reversals, payments (some before the due date,
some after, some missing) and contact outcomes, numbered by the account's sequence and
interleaved across accounts in time order. ``with_faults`` duplicates some events, swaps some
neighbours of one account (late within the window), holds a few events back far beyond it and
slips in malformed lines: what the exactly-once tests, the demo and the benchmark replay.
Deterministic for a seed.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from dataclasses import dataclass

from cardpilot.events.schema import (
    EVENT_ADAPTER,
    SCHEMA_VERSION,
    EventBase,
    StatementIssued,
    to_json,
)

CURRENCY = "CNY"
UTC8 = dt.timezone(dt.timedelta(hours=8))


@dataclass(frozen=True, slots=True)
class Faults:
    duplicates: float = 0.05  # share of events published twice
    swaps: float = 0.05  # share of an account's neighbours published in swapped order
    held_back: int = 3  # events published far later than the window allows
    malformed: int = 3  # lines that are not valid events


def _account_events(
    rng: random.Random, account_id: str, start: dt.datetime, events: int
) -> list[EventBase]:
    limit = rng.choice([500_000, 1_000_000, 2_000_000, 5_000_000])
    balance = rng.randint(0, limit // 2)
    minimum = max(balance // 10, 0)
    due = (start + dt.timedelta(days=20)).date()
    out: list[EventBase] = [
        StatementIssued(
            schema_version=1,
            event_id=f"{account_id}-1",
            account_id=account_id,
            sequence=1,
            occurred_at=start,
            type="statement_issued",
            cycle_date=start.date(),
            due_date=due,
            statement_balance_minor=balance,
            minimum_due_minor=minimum,
            credit_limit_minor=limit,
            currency=CURRENCY,
        )
    ]
    times = sorted(rng.uniform(60, 29 * 86400) for _ in range(events - 1))
    purchases: list[str] = []
    for n, offset in enumerate(times, start=2):
        common: dict[str, object] = {
            "schema_version": SCHEMA_VERSION,
            "event_id": f"{account_id}-{n}",
            "account_id": account_id,
            "sequence": n,
            "occurred_at": start + dt.timedelta(seconds=round(offset)),
        }
        roll = rng.random()
        amount = rng.randint(1_000, limit // 20)
        money = {"amount_minor": amount, "currency": CURRENCY}
        fields: dict[str, object]
        if roll < 0.6:
            fields = {"type": "purchase", **money}
            purchases.append(str(common["event_id"]))
        elif roll < 0.67:
            fields = {"type": "cash_advance", **money}
        elif roll < 0.72 and purchases:
            fields = {**money, "type": "refund", "amount_minor": max(amount // 4, 1)}
            fields["refunds_event_id"] = rng.choice(purchases)
        elif roll < 0.75 and purchases:
            fields = {**money, "type": "reversal", "amount_minor": max(amount // 5, 1)}
            fields |= {"reverses_event_id": rng.choice(purchases), "reversed_type": "purchase"}
        elif roll < 0.93:
            fields = {**money, "type": "payment", "amount_minor": max(minimum, amount)}
        else:
            fields = {
                "type": "contact_outcome",
                "channel": rng.choice(["sms", "app", "call"]),
                "outcome": rng.choice(["reached", "no_answer", "promise_to_pay"]),
            }
        event = EVENT_ADAPTER.validate_python({**common, **fields})
        out.append(event)
    return out


def synthetic_month(
    accounts: list[str], events_per_account: int = 30, seed: int = 7, month: dt.date | None = None
) -> list[EventBase]:
    """Every account's month of events, interleaved in time order."""
    rng = random.Random(seed)
    first = month or dt.date(2026, 11, 1)
    start = dt.datetime(first.year, first.month, 1, 9, tzinfo=UTC8)
    every = [e for a in accounts for e in _account_events(rng, a, start, events_per_account)]
    return sorted(every, key=lambda e: (e.occurred_at, e.account_id, e.sequence))


def with_faults(events: list[EventBase], faults: Faults, seed: int = 11) -> list[bytes]:
    """``events`` as published lines, with duplicates, swaps, held-back events and junk."""
    rng = random.Random(seed)
    lines = [to_json(e) for e in events]
    owners = [e.account_id for e in events]
    # Swap an event with the same account's next one (both stay within the late window).
    last_at: dict[str, int] = {}
    for i, account in enumerate(owners):
        j = last_at.get(account)
        if j is not None and rng.random() < faults.swaps:
            gap = events[i].occurred_at - events[j].occurred_at
            if gap < dt.timedelta(hours=12):
                lines[i], lines[j] = lines[j], lines[i]
        last_at[account] = i
    # Held back: an early event published at the very end, days after its account moved on.
    early = [i for i, e in enumerate(events) if e.sequence > 1 and e.occurred_at.day <= 10]
    held = set(rng.sample(early, min(faults.held_back, len(early))))
    tail = [lines[i] for i in sorted(held)]
    lines = [line for i, line in enumerate(lines) if i not in held]
    for _ in range(round(len(lines) * faults.duplicates)):
        k = rng.randrange(len(lines))
        lines.insert(min(len(lines), k + rng.randint(1, 50)), lines[k])
    junk = [
        b"{not json",
        json.dumps({"schema_version": 1, "type": "purchase", "event_id": "junk-1"}).encode(),
        json.dumps({"schema_version": 9, "event_id": "junk-2"}).encode(),
        json.dumps(
            {
                "schema_version": 1,
                "type": "payment",
                "event_id": "junk-3",
                "account_id": owners[0],
                "sequence": 999,
                "occurred_at": "2026-11-05T10:00:00",
                "amount_minor": 100,
                "currency": CURRENCY,
            }
        ).encode(),
    ]
    for line in junk[: faults.malformed]:
        lines.insert(rng.randrange(len(lines)), line)
    return lines + tail
