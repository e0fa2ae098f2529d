"""A batch decided: applied in order, duplicates skipped, late within the window placed, late
beyond it, conflicting and unknown-account events dead-lettered with their reasons."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from cardpilot.events.features import AccountFeatures
from cardpilot.events.intake import (
    APPLIED,
    DEAD,
    DUPLICATE,
    BatchLookups,
    Receipt,
    parse_batch,
    plan_batch,
)
from cardpilot.events.policy import load_events_policy

from .factories import START, line

TZ = ZoneInfo("Asia/Shanghai")
POLICY = load_events_policy()


def lookups(**kw: object) -> BatchLookups:
    base: dict[str, object] = {
        "received": {},
        "taken": {},
        "states": {},
        "accounts": frozenset({"A1", "A2"}),
    }
    return BatchLookups(**(base | kw))  # type: ignore[arg-type]


def plan(lines: list[bytes], **kw: object):  # type: ignore[no-untyped-def]
    return plan_batch(parse_batch(lines), lookups(**kw), POLICY, TZ)


def test_events_are_applied_and_their_postings_and_receipts_planned() -> None:
    p = plan([line("statement_issued", 1), line("purchase", 2), line("payment", 3)])
    assert p.outcomes == [APPLIED] * 3
    assert p.postings["idempotency_key"].to_list() == ["ev:A1-1", "ev:A1-2", "ev:A1-3"]
    assert p.state("A1").last_sequence == 3
    assert [r.outcome for r in p.receipts] == [APPLIED] * 3


def test_an_event_id_seen_before_in_the_batch_or_the_store_is_a_duplicate() -> None:
    stored = {"A1-1": Receipt("A1-1", "A1", 1, APPLIED)}
    p = plan([line("purchase", 1), line("purchase", 2), line("purchase", 2)], received=stored)
    assert p.outcomes == [DUPLICATE, APPLIED, DUPLICATE]
    assert p.postings.height == 1


def test_a_late_event_within_the_window_is_applied() -> None:
    p = plan([line("purchase", 3, at=START + dt.timedelta(hours=30)), line("purchase", 2)])
    assert p.outcomes == [APPLIED, APPLIED]
    assert p.state("A1").last_sequence == 3


def test_a_late_event_beyond_the_window_is_dead_lettered_with_the_reason() -> None:
    latest = START + dt.timedelta(days=10)
    p = plan([line("purchase", 5, at=latest), line("purchase", 2)])
    assert p.outcomes == [APPLIED, DEAD]
    (position, why) = p.dead_letters[0]
    assert (position, why.kind, why.field) == (1, "late", "occurred_at")
    assert "beyond the late window of 72 h" in why.reason
    assert p.receipts[-1].outcome == DEAD


def test_a_sequence_already_held_by_another_event_is_a_conflict() -> None:
    p = plan([line("purchase", 2)], taken={("A1", 2): "other-event"})
    assert p.dead_letters[0][1].kind == "conflict"
    assert "already event other-event" in p.dead_letters[0][1].reason


def test_an_event_of_an_unknown_account_is_dead_lettered() -> None:
    p = plan([line("purchase", 1, account="NOPE")])
    assert p.dead_letters[0][1].field == "account_id"


def test_an_event_dead_lettered_before_is_dead_lettered_again_once_not_written_twice() -> None:
    before = Receipt("A1-2", "A1", 2, DEAD, "late", "occurred_at", "late: …")
    p = plan([line("purchase", 2), line("purchase", 2)], received={"A1-2": before})
    assert p.outcomes == [DEAD, DUPLICATE]
    assert p.receipts == []
    assert p.dead_letters[0][1].reason == "late: …"


def test_the_state_read_from_the_store_carries_on() -> None:
    state = AccountFeatures("A1", last_sequence=4, last_occurred_at=START.astimezone(dt.UTC))
    p = plan([line("purchase", 5)], states={"A1": state})
    assert p.state("A1").events_applied == 1
    assert p.state("A1").last_sequence == 5
