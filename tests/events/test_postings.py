"""Each event as ledger postings: kind, sign, component, key from the event id."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from hypothesis import given, settings

from cardpilot.events.batch_features import event_frame
from cardpilot.events.postings import event_postings
from cardpilot.events.schema import Event
from cardpilot.ledger.postings import POSTING_SCHEMA, Component, Kind, Source, posting_row

from .factories import event, histories
from .reference_intake import postings_frame

TZ = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    ("kind", "fields", "posting_kind", "amount"),
    [
        ("purchase", {}, Kind.PURCHASE, 10_000),
        ("cash_advance", {}, Kind.CASH_ADVANCE, 10_000),
        ("refund", {}, Kind.REFUND, -10_000),
        ("payment", {}, Kind.PAYMENT, -10_000),
        ("reversal", {}, Kind.REVERSAL, -10_000),
        ("reversal", {"reversed_type": "payment"}, Kind.REVERSAL, 10_000),
        ("statement_issued", {}, Kind.STATEMENT_ISSUED, 200_000),
        ("contact_outcome", {}, Kind.CONTACT, None),
    ],
)
def test_each_event_maps_to_one_posting_of_its_kind_and_sign(
    kind: str, fields: dict[str, str], posting_kind: Kind, amount: int | None
) -> None:
    (posting,) = event_postings(event(kind, 3, **fields), TZ)
    assert posting.kind is posting_kind
    assert posting.amount_minor == amount
    assert posting.idempotency_key == "ev:A1-3"
    assert posting.source is Source.EVENT
    if amount is not None and posting_kind is not Kind.STATEMENT_ISSUED:
        assert posting.component is Component.PRINCIPAL


def test_a_posting_takes_effect_when_the_event_happened_on_the_issuers_day() -> None:
    at = dt.datetime(2026, 11, 30, 20, tzinfo=dt.UTC)  # 1 December in Shanghai
    (posting,) = event_postings(event("purchase", 2, at=at), TZ)
    assert posting.effective_at == at
    assert posting.effective_on == dt.date(2026, 12, 1)


def test_a_reversal_refers_to_the_event_it_reverses_and_a_statement_keeps_its_terms() -> None:
    (reversal,) = event_postings(event("reversal", 4), TZ)
    assert reversal.reference == "ev:A1-2"
    (statement,) = event_postings(event("statement_issued", 1), TZ)
    assert json.loads(statement.detail or "")["minimum_due_minor"] == 20_000


@settings(max_examples=100, deadline=None)
@given(events=histories())
def test_the_postings_frame_holds_the_rows_of_each_events_postings(events: list[Event]) -> None:
    at = event_frame(events).get_column("at")
    frame = postings_frame(events, at, "Asia/Shanghai")
    want = [posting_row(p) for e in events for p in event_postings(e, TZ)]
    assert frame.to_dicts() == want
    assert frame.schema == pl.Schema(POSTING_SCHEMA)
