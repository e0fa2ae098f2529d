"""The intake's write of a batch, on SQLite and PostgreSQL alike: its postings and receipts are
plain inserts of events not yet received, so a batch planned on a look-up that another
transaction has since made stale fails whole instead of writing any event twice; its features
replace the stored ones of their accounts."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError

from cardpilot.events.feature_frames import states_frame, states_of
from cardpilot.events.features import AccountFeatures
from cardpilot.events.intake import BatchLookups, BatchPlan, batch_keys, parse_batch, plan_batch
from cardpilot.events.policy import load_events_policy
from cardpilot.store.event_models import EventReceipt
from cardpilot.store.events import account_features, read_lookups, write_batch
from cardpilot.store.ledger_models import LedgerPosting
from events.broker.helpers import make_store
from events.factories import line

TZ = ZoneInfo("Asia/Shanghai")
# A stored key as SQLAlchemy reports it, or psycopg's own error from a ``COPY``.
KEY_TAKEN = (IntegrityError, psycopg.IntegrityError)
ACCOUNTS = ["A1", "A2"]
LINES = [line("purchase", 1), line("purchase", 2), line("payment", 3, account="A2")]


def _looked_up(conn: Any, lines: list[bytes]) -> tuple[list[Any], BatchLookups]:
    parsed = parse_batch(lines)
    return parsed, read_lookups(conn, *batch_keys(parsed))


def _plan(parsed: list[Any], lookups: BatchLookups) -> BatchPlan:
    return plan_batch(parsed, lookups, load_events_policy(), TZ)


def _counts(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        postings = conn.execute(select(func.count()).select_from(LedgerPosting)).scalar_one()
        receipts = conn.execute(select(func.count()).select_from(EventReceipt)).scalar_one()
    return postings, receipts


def test_a_batch_planned_on_a_stale_look_up_fails_whole(store_url: str) -> None:
    engine = make_store(store_url, ACCOUNTS)
    try:
        with engine.connect() as conn:
            stale = _looked_up(conn, LINES)
        with engine.begin() as conn:
            assert write_batch(conn, _plan(*_looked_up(conn, LINES)), 6) == 3
        assert _counts(engine) == (3, 3)
        # Planned before the events above committed: it holds them as new.
        with pytest.raises(KEY_TAKEN), engine.begin() as conn:
            write_batch(conn, _plan(*stale), 6)
        assert _counts(engine) == (3, 3)
    finally:
        engine.dispose()


def test_a_batch_delivered_again_writes_nothing(store_url: str) -> None:
    engine = make_store(store_url, ACCOUNTS)
    try:
        for _ in range(2):
            with engine.begin() as conn:
                plan = _plan(*_looked_up(conn, LINES))
                write_batch(conn, plan, 6)
        assert (plan.postings.height, len(plan.receipts)) == (0, 0)
        assert _counts(engine) == (3, 3)
    finally:
        engine.dispose()


def test_features_written_again_update_the_stored_and_add_the_new(store_url: str) -> None:
    engine = make_store(store_url, ACCOUNTS)
    first = states_frame([AccountFeatures("A1", last_sequence=1, events_applied=1)])
    again = states_frame(
        [
            AccountFeatures("A1", last_sequence=4, events_applied=3),
            AccountFeatures("A2", last_sequence=2, events_applied=1),
        ]
    )
    try:
        for states in (first, again):
            with engine.begin() as conn:
                write_batch(conn, BatchPlan(states=states), 6)
        with engine.connect() as conn:
            stored = account_features(conn)
        assert stored == states_of(again)
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_the_features_pages_keep_room_for_their_next_versions(postgres_store_url: str) -> None:
    engine = make_store(postgres_store_url, ACCOUNTS)
    try:
        with engine.connect() as conn:
            options = conn.exec_driver_sql(
                "SELECT reloptions FROM pg_class WHERE relname = 'event_account_features'"
            ).scalar_one()
        assert options == ["fillfactor=50"]
    finally:
        engine.dispose()
