"""The intake's planning as it was written first, event by event: the reference the faster
paths (``events.event_columns``, the order rule that also finds the accounts the fold takes
event by event) are proven equal to."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

import polars as pl

from cardpilot.events.batch_features import fold_batch, zone_name
from cardpilot.events.event_columns import EVENT_SCHEMA, PRINCIPAL
from cardpilot.events.feature_frames import CONTACT, MONEY, STATEMENT
from cardpilot.events.features import money_effect
from cardpilot.events.intake import (
    APPLIED,
    DEAD,
    DUPLICATE,
    BatchLookups,
    BatchPlan,
    Mark,
    Receipt,
    _rejection,
)
from cardpilot.events.policy import EventsPolicy
from cardpilot.events.postings import KEY_PREFIX, posting_fields
from cardpilot.events.schema import ContactOutcome, Event, StatementIssued
from cardpilot.events.validation import Rejection
from cardpilot.ledger.postings import POSTING_SCHEMA, Source

_NO_STATEMENT = (None, None, None, None, None)


def event_frame(events: Sequence[Event]) -> pl.DataFrame:
    """The applied events as columns (``EVENT_SCHEMA``), in order, a value at a time."""
    cols: dict[str, list[Any]] = {c: [] for c in EVENT_SCHEMA}
    utc = dt.UTC
    money = cols["bal"].append, cols["paid"].append, cols["spend"].append
    extra = [cols[c].append for c in ("s_balance", "s_limit", "s_min_due", "s_due", "s_currency")]
    kinds, outcomes = cols["kind"].append, cols["outcome"].append
    for e in events:
        kind = e.type
        if isinstance(e, StatementIssued):
            kinds(STATEMENT)
            values: tuple[Any, ...] = (
                e.statement_balance_minor,
                e.credit_limit_minor,
                e.minimum_due_minor,
                e.due_date,
                e.currency,
            )
            effect: tuple[int, int, int] = (0, 0, 0)
            outcomes(None)
        else:
            values = _NO_STATEMENT
            if isinstance(e, ContactOutcome):
                kinds(CONTACT)
                effect = (0, 0, 0)
                outcomes(e.outcome)
            else:
                kinds(MONEY)
                effect = money_effect(e)
                outcomes(None)
        for add, value in zip(extra, values, strict=True):
            add(value)
        for add, value in zip(money, effect, strict=True):
            add(value)
        cols["account_id"].append(e.account_id)
        cols["sequence"].append(e.sequence)
        cols["at"].append(e.occurred_at.astimezone(utc))
        cols["payment"].append(kind == "payment")
        cols["cash"].append(kind == "cash_advance")
    cols["pos"] = list(range(len(events)))
    return pl.DataFrame(cols, schema=EVENT_SCHEMA)


def postings_frame(events: Sequence[Event], at: pl.Series, zone: str) -> pl.DataFrame:
    """The postings of ``events`` (one each, in order) as ``ledger.postings.POSTING_SCHEMA``
    columns, the rows ``event_postings`` gives; ``at`` is when each happened (UTC), ``zone``
    the issuer's, whose day is the posting's business day."""
    cols: dict[str, list[Any]] = {c: [] for c in _BUILT}
    for event in events:
        f = posting_fields(event)
        cols["account_id"].append(event.account_id)
        cols["kind"].append(f.kind.value)
        cols["component"].append(PRINCIPAL if f.money else None)
        cols["amount_minor"].append(f.amount_minor)
        cols["currency"].append(
            getattr(event, "currency", None) if f.amount_minor is not None else None
        )
        cols["idempotency_key"].append(KEY_PREFIX + event.event_id)
        cols["reference"].append(f.reference)
        cols["detail"].append(f.detail)
    frame = pl.DataFrame(cols, schema={c: POSTING_SCHEMA[c] for c in _BUILT})
    return frame.with_columns(
        effective_at=at,
        effective_on=at.dt.convert_time_zone(zone).dt.date(),
        source=pl.lit(Source.EVENT.value),
        basis=pl.lit(None, pl.Utf8()),
    ).select(list(POSTING_SCHEMA))


_BUILT = (
    "account_id",
    "kind",
    "component",
    "amount_minor",
    "currency",
    "idempotency_key",
    "reference",
    "detail",
)


def _marks(states: pl.DataFrame, accounts: Iterable[str]) -> dict[str, Mark]:
    wanted = states.filter(pl.col("account_id").is_in(pl.Series(list(accounts)).implode()))
    return {
        a: Mark(n, t)
        for a, n, t in wanted.select("account_id", "last_sequence", "last_occurred_at").iter_rows()
    }


def plan_batch(
    parsed: list[Event | Rejection], lookups: BatchLookups, policy: EventsPolicy, tz: dt.tzinfo
) -> BatchPlan:
    """``intake.plan_batch`` event by event, its frames built a value at a time and the fold
    finding for itself the accounts it takes event by event."""
    plan = BatchPlan()
    seen: set[str] = set(lookups.received)
    redone: set[str] = set()
    taken = dict(lookups.taken)
    states = lookups.state_frame()
    marks = _marks(states, {e.account_id for e in parsed if not isinstance(e, Rejection)})
    for position, item in enumerate(parsed):
        if isinstance(item, Rejection):
            plan.outcomes.append(DEAD)
            plan.dead_letters.append((position, item))
            continue
        if item.event_id in seen:
            before = lookups.received.get(item.event_id)
            if before is not None and before.outcome == DEAD and item.event_id not in redone:
                redone.add(item.event_id)
                plan.outcomes.append(DEAD)
                plan.dead_letters.append((position, before.rejection()))
            else:
                plan.outcomes.append(DUPLICATE)
            continue
        seen.add(item.event_id)
        mark = marks.get(item.account_id) or marks.setdefault(item.account_id, Mark())
        why = _rejection(item, lookups, taken, mark, policy)
        if why is not None:
            plan.outcomes.append(DEAD)
            plan.dead_letters.append((position, why))
            plan.receipts.append(
                Receipt(
                    item.event_id,
                    item.account_id,
                    item.sequence,
                    DEAD,
                    why.kind,
                    why.field,
                    why.reason,
                )
            )
            continue
        taken[(item.account_id, item.sequence)] = item.event_id
        at = item.occurred_at.astimezone(dt.UTC)
        mark.sequence = max(mark.sequence, item.sequence)
        mark.latest = at if mark.latest is None else max(mark.latest, at)
        plan.receipts.append(Receipt(item.event_id, item.account_id, item.sequence, APPLIED))
        plan.applied.append(item)
        plan.outcomes.append(APPLIED)
    if plan.applied:
        frame = event_frame(plan.applied)
        plan.postings = postings_frame(plan.applied, frame.get_column("at"), zone_name(tz))
        months = policy.spending_average_months
        folded = fold_batch(states, plan.applied, tz, months, policy.late_window, frame)
        plan.states, plan.triggers = folded.states, folded.triggers
    return plan
