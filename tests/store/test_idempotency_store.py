"""``store.idempotency`` on SQLite and PostgreSQL: a key is claimed once per caller, a success
is kept and replayed to the same request only, a failure frees the key, a claim whose request
never finished is taken over after ``ABANDONED_AFTER``, and answers expire after
``KEEP_ANSWERS``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine

from cardpilot.store.db import make_engine, upgrade
from cardpilot.store.idempotency import (
    ABANDONED_AFTER,
    KEEP_ANSWERS,
    Outcome,
    claim_request,
    keep_answer,
    release_claim,
)
from cardpilot.store.models import Base, import_all_models

NOW = dt.datetime(2026, 12, 5, 20, 0, tzinfo=dt.UTC)
ROUTE = "POST /v1/cases"


@pytest.fixture
def db(store_url: str) -> Iterator[Engine]:
    upgrade(store_url)
    engine = make_engine(store_url)
    yield engine
    engine.dispose()


def test_the_migration_builds_the_model(db):
    import_all_models()
    with db.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert [d for d in diff if "idempotent_requests" in repr(d)] == []


def test_a_key_is_claimed_once_and_its_success_replayed_to_the_same_request_only(db):
    assert claim_request(db, "key:a", "k1", ROUTE, "f1", NOW).outcome is Outcome.CLAIMED
    assert claim_request(db, "key:a", "k1", ROUTE, "f1", NOW).outcome is Outcome.RUNNING
    assert claim_request(db, "key:b", "k1", ROUTE, "f2", NOW).outcome is Outcome.CLAIMED

    keep_answer(db, "key:a", "k1", 201, "application/json", b'{"id":7}', NOW)

    replay = claim_request(db, "key:a", "k1", ROUTE, "f1", NOW)
    assert (replay.outcome, replay.status, replay.body) == (Outcome.REPLAY, 201, b'{"id":7}')
    assert replay.media_type == "application/json"
    assert claim_request(db, "key:a", "k1", ROUTE, "f9", NOW).outcome is Outcome.MISMATCH


def test_a_failed_request_frees_its_key_and_an_answer_is_never_freed(db):
    claim_request(db, "key:a", "k1", ROUTE, "f1", NOW)
    release_claim(db, "key:a", "k1")
    assert claim_request(db, "key:a", "k1", ROUTE, "f2", NOW).outcome is Outcome.CLAIMED
    keep_answer(db, "key:a", "k1", 200, "application/json", b"{}", NOW)
    release_claim(db, "key:a", "k1")  # a late release: the answer stays
    assert claim_request(db, "key:a", "k1", ROUTE, "f2", NOW).outcome is Outcome.REPLAY


def test_an_abandoned_claim_is_taken_over_and_old_answers_expire(db):
    claim_request(db, "key:a", "lost", ROUTE, "f1", NOW)
    later = NOW + ABANDONED_AFTER + dt.timedelta(seconds=1)
    assert claim_request(db, "key:a", "lost", ROUTE, "f2", later).outcome is Outcome.CLAIMED

    claim_request(db, "key:a", "old", ROUTE, "f1", NOW)
    keep_answer(db, "key:a", "old", 201, "application/json", b"{}", NOW)
    expired = NOW + KEEP_ANSWERS + dt.timedelta(seconds=1)
    assert claim_request(db, "key:a", "old", ROUTE, "f3", expired).outcome is Outcome.CLAIMED
