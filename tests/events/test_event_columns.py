"""The batch's planning on its fast paths equals the reference, event by event: the events'
frame and postings built in one pass, and a whole plan (outcomes, dead letters, receipts,
postings, states, trigger rows) whatever the duplicates, stored receipts, conflicts, unknown
accounts, late events and prior states."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cardpilot.events import batch_features
from cardpilot.events import event_columns as event_columns_module
from cardpilot.events.event_columns import event_columns
from cardpilot.events.feature_frames import STATE_SCHEMA
from cardpilot.events.intake import DEAD, BatchLookups, BatchPlan, Receipt, parse_batch, plan_batch
from cardpilot.events.policy import load_events_policy
from cardpilot.events.postings import event_postings
from cardpilot.events.schema import Event, to_json
from cardpilot.ledger.postings import POSTING_SCHEMA, posting_row

from . import reference_intake
from .factories import event, histories

TZ = ZoneInfo("Asia/Shanghai")
POLICY = load_events_policy()


@settings(max_examples=150, deadline=None)
@given(events=histories())
def test_the_events_columns_equal_the_frame_and_postings_built_event_by_event(
    events: list[Event],
) -> None:
    frame, postings = event_columns(events, None, "Asia/Shanghai")
    assert frame.equals(reference_intake.event_frame(events))
    assert frame.schema == reference_intake.event_frame(events).schema
    assert postings.schema == pl.Schema(POSTING_SCHEMA)
    assert postings.to_dicts() == [posting_row(p) for e in events for p in event_postings(e, TZ)]


def test_no_events_give_empty_frames() -> None:
    frame, postings = event_columns([], [], "UTC")
    assert frame.height == postings.height == 0
    assert postings.schema == pl.Schema(POSTING_SCHEMA)


def _same(plan: BatchPlan, want: BatchPlan) -> None:
    assert plan.outcomes == want.outcomes
    assert plan.dead_letters == want.dead_letters
    assert plan.receipts == want.receipts
    assert plan.applied == want.applied
    assert plan.postings.equals(want.postings)
    assert plan.states.equals(want.states)
    assert plan.triggers.equals(want.triggers)


@settings(max_examples=200, deadline=None)
@given(
    events=histories(),
    cut=st.integers(0, 40),
    repeats=st.lists(st.integers(0, 39), max_size=6),
    accounts=st.sampled_from([("A1", "A2", "A3"), ("A1", "A2")]),
    conflict=st.booleans(),
    stored_dead=st.booleans(),
    columns=st.booleans(),
)
def test_a_plan_equals_the_plan_made_event_by_event(
    events: list[Event],
    cut: int,
    repeats: list[int],
    accounts: tuple[str, ...],
    conflict: bool,
    stored_dead: bool,
    columns: bool,
) -> None:
    cut %= len(events) + 1
    before, batch = events[:cut], events[cut:]
    lines = [to_json(e) for e in batch]
    for r in repeats:
        if lines:
            lines.insert(r % (len(lines) + 1), lines[r % len(lines)])
    lines.insert(len(lines) // 2, b"{not json")
    states = pl.DataFrame(schema=STATE_SCHEMA)
    if before:
        states = batch_features.fold_batch(
            states, before, TZ, POLICY.spending_average_months, POLICY.late_window
        ).states
    received = {}
    if stored_dead and batch:
        e = batch[-1]
        received[e.event_id] = Receipt(e.event_id, e.account_id, e.sequence, DEAD, "late", "x", "y")
    taken = {("A1", 2): "someone-else"} if conflict else {}
    lookups = BatchLookups(received, taken, states, frozenset(accounts))
    with pytest.MonkeyPatch.context() as mp:
        if columns:  # the column-wise fold, however small the batch
            mp.setattr(batch_features, "COLUMNS_FROM", 0)
        plan = plan_batch(parse_batch(lines), lookups, POLICY, TZ)
        want = reference_intake.plan_batch(parse_batch(lines), lookups, POLICY, TZ)
    _same(plan, want)


def test_an_event_more_than_the_window_behind_is_folded_as_the_reference_folds_it() -> None:

    start = dt.datetime(2026, 11, 1, 9, tzinfo=dt.UTC)
    events = [
        event("statement_issued", 1, at=start),
        event("purchase", 3, at=start + dt.timedelta(days=10)),
        event("payment", 4, at=start + dt.timedelta(days=1)),  # behind, yet in sequence
    ]
    lines = [to_json(e) for e in events]
    lookups = BatchLookups({}, {}, pl.DataFrame(schema=STATE_SCHEMA), frozenset({"A1"}))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(batch_features, "COLUMNS_FROM", 0)
        plan = plan_batch(parse_batch(lines), lookups, POLICY, TZ)
        want = reference_intake.plan_batch(parse_batch(lines), lookups, POLICY, TZ)
    assert plan.outcomes == ["applied"] * 3
    _same(plan, want)


@pytest.mark.parametrize(
    ("kind", "fields"),
    [
        ("purchase", {}),
        ("cash_advance", {}),
        ("payment", {}),
        ("refund", {}),
        ("refund", {"refunds_event_id": "A1-2"}),
        *(("reversal", {"reversed_type": t}) for t in ("purchase", "cash_advance", "refund")),
        ("reversal", {"reversed_type": "payment"}),
        ("statement_issued", {}),
        ("statement_issued", {"statement_balance_minor": -3_000, "minimum_due_minor": 0}),
        ("contact_outcome", {}),
        ("contact_outcome", {"promised_amount_minor": 50_000, "promised_on": "2026-11-20"}),
        ("contact_outcome", {"channel": "visit", "promised_amount_minor": 0}),
    ],
)
def test_each_types_row_equals_the_row_from_the_per_event_definitions(
    kind: str, fields: dict[str, object]
) -> None:
    e = event(kind, 3, **fields)
    assert event_columns_module._BY_TYPE[type(e)](e) == event_columns_module._any(e)
