"""The features folded over a batch column-wise equal the per-event fold, event for event:
each event's trigger row and each account's state after the batch, whatever the batches, the
order within the late window, the kinds of events and the statements."""

from __future__ import annotations

import datetime as dt
import itertools
from zoneinfo import ZoneInfo

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from cardpilot.events.batch_features import (
    TRIGGER_COLUMNS,
    _running_max,
    _running_min,
    fold_batch,
    spans,
)
from cardpilot.events.feature_frames import STATE_SCHEMA, states_frame, states_of
from cardpilot.events.features import AccountFeatures, apply_event
from cardpilot.events.schema import Event

from .factories import event, histories

TZ = ZoneInfo("Asia/Shanghai")
WINDOW = dt.timedelta(hours=72)
MONTHS = 6


def by_event(events: list[Event]) -> tuple[list[dict[str, object]], dict[str, AccountFeatures]]:
    states: dict[str, AccountFeatures] = {}
    rows = []
    for e in events:
        state = states.get(e.account_id) or AccountFeatures(e.account_id)
        states[e.account_id] = apply_event(state, e, TZ, MONTHS, WINDOW)
        rows.append(state.trigger_row(TZ, MONTHS))
    return rows, states


def by_batch(
    events: list[Event], cuts: list[int]
) -> tuple[list[dict[str, object]], dict[str, AccountFeatures]]:
    states = pl.DataFrame(schema=STATE_SCHEMA)
    rows: list[dict[str, object]] = []
    bounds = sorted({0, len(events), *(c % (len(events) + 1) for c in cuts)})
    for start, end in itertools.pairwise(bounds):
        folded = fold_batch(states, events[start:end], TZ, MONTHS, WINDOW, columns_from=0)
        assert folded.triggers.schema == pl.Schema(TRIGGER_COLUMNS)
        rows.extend(folded.triggers.to_dicts())
        kept = states.filter(~pl.col("account_id").is_in(folded.states["account_id"].implode()))
        states = pl.concat([kept, folded.states])
    return rows, states_of(states)


@settings(max_examples=300, deadline=None)
@given(events=histories(), cuts=st.lists(st.integers(0, 60), max_size=4))
def test_the_batch_fold_equals_the_per_event_fold(events: list[Event], cuts: list[int]) -> None:
    rows, states = by_batch(events, cuts)
    want_rows, want_states = by_event(events)
    assert rows == want_rows
    assert states == want_states


def test_a_state_survives_its_frame() -> None:
    _, states = by_event(
        [
            event("statement_issued", 1),
            event("purchase", 2),
            event("payment", 3),
            event("contact_outcome", 4),
        ]
    )
    assert states_of(states_frame(states.values())) == states


@settings(max_examples=200, deadline=None)
@given(
    groups=st.lists(
        st.lists(st.one_of(st.none(), st.integers(-(2**40), 2**40)), min_size=1, max_size=5),
        min_size=1,
        max_size=8,
    )
)
def test_the_running_extremes_by_offset_equal_those_by_rank(
    groups: list[list[int | None]],
) -> None:
    rows = [(g, v) for g, values in enumerate(groups) for v in values]
    frame = pl.DataFrame(rows, schema={"g": pl.UInt32(), "x": pl.Int64()}, orient="row")
    span = spans(frame, ["x"])["x"]
    assert span is not None or frame.get_column("x").null_count() == frame.height
    got = frame.select(
        _running_max(pl.col("x"), span).alias("max"),
        _running_min(pl.col("x"), span).alias("min"),
        _running_max(pl.col("x")).alias("max_ranked"),
        _running_min(pl.col("x")).alias("min_ranked"),
    )
    want_max: list[int | None] = []
    want_min: list[int | None] = []
    for values in groups:
        seen: list[int] = []
        for v in values:
            seen += [] if v is None else [v]
            want_max.append(max(seen) if seen else None)
            want_min.append(min(seen) if seen else None)
    assert got.get_column("max").to_list() == want_max == got.get_column("max_ranked").to_list()
    assert got.get_column("min").to_list() == want_min == got.get_column("min_ranked").to_list()


def test_a_range_too_wide_to_offset_is_ranked() -> None:
    frame = pl.DataFrame({"g": [0, 1], "x": [-(2**62), 2**62]})
    assert spans(frame, ["x"])["x"] is None
