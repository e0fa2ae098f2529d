"""The intake's look-ups of a batch: what the store holds of its event ids, its exact
(account, sequence) pairs and its accounts, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import polars as pl
from sqlalchemy import insert

from cardpilot.events.feature_frames import states_frame
from cardpilot.events.features import AccountFeatures
from cardpilot.events.intake import APPLIED, DEAD, BatchPlan, Receipt
from cardpilot.store.event_features import driver_rows
from cardpilot.store.event_models import EventReceipt
from cardpilot.store.events import existing_accounts, read_lookups, write_batch
from events.broker.helpers import make_store


def _store(url: str) -> object:
    engine = make_store(url, ["A1", "A2", "A'3"])
    with engine.begin() as conn:
        # One statement's rows share the first row's columns: each row names them all.
        blank = {"kind": None, "field": None, "reason": None}
        conn.execute(
            insert(EventReceipt),
            [
                {"event_id": "e1", "account_id": "A1", "sequence": 1, "outcome": APPLIED, **blank},
                {"event_id": "e2", "account_id": "A1", "sequence": 2, "outcome": APPLIED, **blank},
                {
                    "event_id": "e3",
                    "account_id": "A2",
                    "sequence": 1,
                    "outcome": DEAD,
                    "kind": "conflict",
                    "field": "sequence",
                    "reason": "taken",
                },
                {"event_id": "e4", "account_id": "A'3", "sequence": 7, "outcome": APPLIED, **blank},
            ],
        )
        # Written with the applied events' receipts: each account's highest applied sequence.
        applied = [AccountFeatures("A1", last_sequence=2), AccountFeatures("A'3", last_sequence=7)]
        write_batch(conn, BatchPlan(states=states_frame(applied)), 6)
    return engine


def test_the_lookups_read_the_batch_s_ids_pairs_and_accounts_only(store_url: str) -> None:
    engine = _store(store_url)
    try:
        with engine.connect() as conn:  # type: ignore[attr-defined]
            got = read_lookups(
                conn,
                {"e1", "e3", "new"},
                {"A1", "A2", "A'3", "missing"},
                {("A1", 2), ("A1", 5), ("A2", 1), ("A'3", 7)},
            )
        assert got.received == {
            "e1": Receipt("e1", "A1", 1, APPLIED, None, None, None),
            "e3": Receipt("e3", "A2", 1, DEAD, "conflict", "sequence", "taken"),
        }
        # A dead event holds no sequence; another sequence of the account is not asked for.
        assert got.taken == {("A1", 2): "e2", ("A'3", 7): "e4"}
        assert got.accounts == frozenset({"A1", "A2", "A'3"})
    finally:
        engine.dispose()  # type: ignore[attr-defined]


def test_only_pairs_up_to_an_account_s_highest_applied_sequence_are_asked(
    store_url: str,
) -> None:
    engine = _store(store_url)
    try:
        with engine.begin() as conn:  # type: ignore[attr-defined]
            # Against the store's rule (no features for A2's applied event): not asked for.
            conn.execute(
                insert(EventReceipt),
                [{"event_id": "e9", "account_id": "A2", "sequence": 9, "outcome": APPLIED}],
            )
            got = read_lookups(conn, set(), {"A1", "A2"}, {("A1", 2), ("A1", 3), ("A2", 9)})
        assert got.taken == {("A1", 2): "e2"}
    finally:
        engine.dispose()  # type: ignore[attr-defined]


def test_an_account_with_features_exists_without_being_looked_up(store_url: str) -> None:
    engine = _store(store_url)
    try:
        # The consumer's held states are of accounts whose features it committed (their
        # foreign key holds the account): those are not asked of ``accounts`` again.
        held = states_frame([AccountFeatures("A1"), AccountFeatures("held-only")])
        with engine.connect() as conn:  # type: ignore[attr-defined]
            got = read_lookups(conn, set(), {"A2", "held-only", "missing"}, set(), held)
        assert got.accounts == frozenset({"A2", "held-only"})
    finally:
        engine.dispose()  # type: ignore[attr-defined]


def test_an_empty_batch_looks_nothing_up(store_url: str) -> None:
    engine = _store(store_url)
    try:
        with engine.connect() as conn:  # type: ignore[attr-defined]
            got = read_lookups(conn, set(), set(), set())
            assert existing_accounts(conn, []) == set()
        assert (got.received, got.taken, got.accounts) == ({}, {}, frozenset())
    finally:
        engine.dispose()  # type: ignore[attr-defined]


def test_driver_rows_are_the_frame_s_rows() -> None:
    frame = pl.DataFrame(
        {"a": ["x", None, "z"], "n": [1, None, -(2**62)], "t": ["2026-11-01", "", None]}
    )
    assert driver_rows(frame) == frame.rows()
    assert driver_rows(frame.clear()) == []
