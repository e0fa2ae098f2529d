"""One batch of events from the broker, decided: applied, duplicate or dead-lettered.

Pure: the consumer parses the batch (``parse_batch``), reads what the store knows about it
(``BatchLookups``: the event ids already received, the sequences already taken, the accounts'
states, which accounts exist) and hands both to ``plan_batch``, which returns everything the
store writes in one transaction and what goes to the dead-letter subject.

The order rule, per account: events are applied in the order they arrive, which on one
JetStream subject is the order they were published. An event whose sequence is below the
highest the account has applied arrived late; it is applied (and lands in its place: postings
carry the time it happened, the features fold by that time) when it happened at most the
policy's late window before the account's latest event, and dead-lettered with the reason when
further behind. A sequence another event already holds is a conflict; an unknown account is
dead-lettered too. An event id seen before is a duplicate: acknowledged, nothing written.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import polars as pl

from cardpilot.events.batch_features import TRIGGER_COLUMNS, fold_batch, zone_name
from cardpilot.events.event_columns import EPOCH, MICROSECOND, event_columns
from cardpilot.events.feature_frames import STATE_SCHEMA, state_of, states_frame
from cardpilot.events.features import AccountFeatures
from cardpilot.events.policy import EventsPolicy
from cardpilot.events.schema import Event
from cardpilot.events.validation import Rejection, parse_event
from cardpilot.ledger.postings import POSTING_SCHEMA

APPLIED, DUPLICATE, DEAD = "applied", "duplicate", "dead"


class Receipt(NamedTuple):
    """What the store keeps of an event received: its outcome (and why, if dead); its
    fields in the order of the receipts table's columns (``store.events.RECEIPT_COLUMNS``).
    A tuple, as a batch makes one for every event it is given."""

    event_id: str
    account_id: str
    sequence: int
    outcome: str
    kind: str | None = None  # dead: the rejection's kind, field and reason
    field: str | None = None
    reason: str | None = None

    def rejection(self) -> Rejection:
        return Rejection(
            self.field or "$", self.reason or "", self.kind or "", self.event_id, self.account_id
        )


@dataclass(frozen=True, slots=True)
class BatchLookups:
    """What the store knows about a batch's events before it is applied."""

    received: Mapping[str, Receipt]  # event id → what became of it
    taken: Mapping[tuple[str, int], str]  # (account, sequence) → the applied event id
    # The accounts' running features (``STATE_SCHEMA`` rows; objects by account for tests).
    states: pl.DataFrame | Mapping[str, AccountFeatures]
    accounts: frozenset[str]  # the batch's accounts that exist in the store

    def state_frame(self) -> pl.DataFrame:
        if isinstance(self.states, pl.DataFrame):
            return self.states
        return states_frame(self.states.values())


@dataclass(slots=True)
class BatchPlan:
    outcomes: list[str] = field(default_factory=list)  # one per message, in batch order
    postings: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=POSTING_SCHEMA))
    receipts: list[Receipt] = field(default_factory=list)
    # The new states of the accounts changed (``STATE_SCHEMA``).
    states: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=STATE_SCHEMA))
    dead_letters: list[tuple[int, Rejection]] = field(default_factory=list)  # (position, why)
    applied: list[Event] = field(default_factory=list)
    # Each applied event's account as the early-warning rules see it right after the event
    # (``TRIGGER_COLUMNS``, in order): the rules judge every event, whatever batch it arrived in.
    triggers: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=TRIGGER_COLUMNS))

    def counts(self) -> dict[str, int]:
        return {k: self.outcomes.count(k) for k in (APPLIED, DUPLICATE, DEAD)}

    def state(self, account_id: str) -> AccountFeatures:
        """One changed account's new state, as an object."""
        return state_of(
            self.states.row(by_predicate=pl.col("account_id") == account_id, named=True)
        )

    @property
    def trigger_rows(self) -> list[dict[str, object]]:
        return self.triggers.to_dicts()


def parse_batch(raws: Iterable[bytes]) -> list[Event | Rejection]:
    return [parse_event(raw) for raw in raws]


def batch_keys(
    parsed: Iterable[Event | Rejection],
) -> tuple[set[str], set[str], set[tuple[str, int]]]:
    """The event ids, accounts and (account, sequence) keys the store is asked about."""
    ids: set[str] = set()
    accounts: set[str] = set()
    keys: set[tuple[str, int]] = set()
    for item in parsed:
        if not isinstance(item, Rejection):
            ids.add(item.event_id)
            accounts.add(item.account_id)
            keys.add((item.account_id, item.sequence))
    return ids, accounts, keys


def _hours(delta: dt.timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:.1f} h"


@dataclass(slots=True)
class Mark:
    """How far an account's applied events have come: what the order rule looks at."""

    sequence: int = 0
    latest: dt.datetime | None = None  # UTC


def _rejection(
    event: Event,
    lookups: BatchLookups,
    taken: Mapping[tuple[str, int], str],
    mark: Mark,
    policy: EventsPolicy,
) -> Rejection | None:
    ids = {"event_id": event.event_id, "account_id": event.account_id}
    if event.account_id not in lookups.accounts:
        return Rejection(
            "account_id", f"no account {event.account_id} in the store", "unknown_account", **ids
        )
    holder = taken.get((event.account_id, event.sequence))
    if holder is not None and holder != event.event_id:
        return Rejection(
            "sequence",
            f"sequence {event.sequence} of account {event.account_id} is already event {holder}",
            "conflict",
            **ids,
        )
    latest = mark.latest
    if event.sequence < mark.sequence and latest is not None:
        behind = latest - event.occurred_at.astimezone(dt.UTC)
        if behind > policy.late_window:
            return Rejection(
                "occurred_at",
                f"late: sequence {event.sequence} arrived after sequence {mark.sequence};"
                f" it happened {_hours(behind)} before the account's latest event"
                f" ({latest.isoformat()}), beyond the late window of"
                f" {policy.late_window_hours} h",
                "late",
                **ids,
            )
    return None


def _marks_us(states: pl.DataFrame, accounts: Iterable[str]) -> dict[str, list[Any]]:
    """Each account's highest sequence and latest time (microseconds since the epoch) among
    ``states``, as ``[sequence, latest]``: what the order rule compares an event by event."""
    wanted = states.filter(pl.col("account_id").is_in(pl.Series(list(accounts)).implode()))
    columns = wanted.select(
        "account_id", "last_sequence", pl.col("last_occurred_at").dt.epoch("us")
    )
    return {a: [n, t] for a, n, t in columns.iter_rows()}


def plan_batch(
    parsed: list[Event | Rejection], lookups: BatchLookups, policy: EventsPolicy, tz: dt.tzinfo
) -> BatchPlan:
    """What to write and what to dead-letter for ``parsed`` (in batch order).

    The events are decided one by one (the order rule needs only each account's highest
    sequence and latest time so far); the features of those applied are folded after, over
    the whole batch at once (``events.batch_features``)."""
    plan = BatchPlan()
    outcomes, dead_letters, receipts = plan.outcomes, plan.dead_letters, plan.receipts
    applied = plan.applied
    received = lookups.received
    seen: set[str] = set(received)
    redone: set[str] = set()
    taken = dict(lookups.taken)
    states = lookups.state_frame()
    marks = _marks_us(states, {e.account_id for e in parsed if not isinstance(e, Rejection)})
    window_us = policy.late_window // MICROSECOND
    ats: list[int] = []  # when each applied event happened, microseconds since the epoch
    # The accounts with an event applied more than the window before their latest before it:
    # the fold takes them event by event (``batch_features._irregular`` finds the same).
    behind: set[str] = set()
    for position, item in enumerate(parsed):
        if isinstance(item, Rejection):
            outcomes.append(DEAD)
            dead_letters.append((position, item))
            continue
        event_id = item.event_id
        if event_id in seen:
            before = received.get(event_id)
            if before is not None and before.outcome == DEAD and event_id not in redone:
                # Dead-lettered before, maybe not yet published: published again (the
                # dead-letter message id makes it once) and acknowledged.
                redone.add(event_id)
                outcomes.append(DEAD)
                dead_letters.append((position, before.rejection()))
            else:
                outcomes.append(DUPLICATE)
            continue
        seen.add(event_id)
        account, sequence = item.account_id, item.sequence
        mark = marks.get(account)
        if mark is None:
            mark = marks[account] = [0, None]
        highest, latest = mark
        at = (item.occurred_at - EPOCH) // MICROSECOND
        holder = taken.get((account, sequence))
        why = None
        if (
            account not in lookups.accounts
            or (holder is not None and holder != event_id)
            or (sequence < highest and latest is not None and latest - at > window_us)
        ):
            # The same three tests, with their reasons.
            then = None if latest is None else EPOCH + latest * MICROSECOND
            why = _rejection(item, lookups, taken, Mark(highest, then), policy)
        if why is not None:
            outcomes.append(DEAD)
            dead_letters.append((position, why))
            receipts.append(
                Receipt(event_id, account, sequence, DEAD, why.kind, why.field, why.reason)
            )
            continue
        taken[(account, sequence)] = event_id
        if latest is None:
            mark[1] = at
        else:
            if at < latest - window_us:
                behind.add(account)
            if at > latest:
                mark[1] = at
        if sequence > highest:
            mark[0] = sequence
        receipts.append(Receipt(event_id, account, sequence, APPLIED))
        applied.append(item)
        ats.append(at)
        outcomes.append(APPLIED)
    if applied:
        _fold_applied(plan, states, ats, behind, policy, tz)
    return plan


def _fold_applied(
    plan: BatchPlan,
    states: pl.DataFrame,
    ats: list[int],
    behind: set[str],
    policy: EventsPolicy,
    tz: dt.tzinfo,
) -> None:
    """The applied events' postings, and the features folded over them, into ``plan``."""
    frame, plan.postings = event_columns(plan.applied, ats, zone_name(tz))
    months, window = policy.spending_average_months, policy.late_window
    folded = fold_batch(states, plan.applied, tz, months, window, frame, irregular=behind)
    plan.states, plan.triggers = folded.states, folded.triggers
