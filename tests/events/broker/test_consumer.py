"""The consumer on the real broker and store: duplicates applied once, reordered events placed,
malformed and out-of-window events dead-lettered with their reasons, the rest processed."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

from cardpilot.events.policy import load_events_policy
from cardpilot.store.events import account_features, intake_digests, receipt_counts
from cardpilot.store.ledger import account_balance
from cardpilot.stream.broker import Broker
from cardpilot.stream.consumer import ConsumeCounts, ConsumeOptions, consume
from cardpilot.stream.publish import publish_lines

from ..factories import START, line
from .helpers import TZ, consume_all, dead_letters, make_store, publish


def test_duplicates_are_applied_once(broker: Broker, store_url: str) -> None:
    engine = make_store(store_url, ["A1"])
    lines = [line("statement_issued", 1), line("purchase", 2), line("payment", 3)]
    publish(broker, lines + lines[1:] + lines)
    counts = consume_all(engine, broker, batch=2)
    assert (counts.messages, counts.applied, counts.duplicates, counts.dead) == (8, 3, 5, 0)
    with engine.connect() as conn:
        assert account_balance(conn, "A1")["total"] == 0  # purchase 100.00, payment 100.00
        assert receipt_counts(conn) == {"applied": 3}
        assert account_features(conn)["A1"].events_applied == 3
    engine.dispose()


def test_a_second_consumer_run_over_the_same_events_adds_nothing(
    broker: Broker, tmp_path: Path
) -> None:
    engine = make_store(f"sqlite:///{tmp_path / 's.db'}", ["A1"])
    publish(broker, [line("purchase", 1), line("purchase", 2)])
    consume_all(engine, broker)
    with engine.connect() as conn:
        before = intake_digests(conn)
    again = Broker(broker.url, broker.stream, broker.prefix, durable=broker.durable + "x")
    assert consume_all(engine, again).duplicates == 2
    with engine.connect() as conn:
        assert intake_digests(conn) == before
    engine.dispose()


def test_reordered_events_within_the_window_land_in_their_place(
    broker: Broker, tmp_path: Path
) -> None:
    engine = make_store(f"sqlite:///{tmp_path / 's.db'}", ["A1"])
    statement = line("statement_issued", 1)
    early = line("purchase", 2, at=START + dt.timedelta(hours=2), amount_minor=5_000)
    later = line("payment", 3, at=START + dt.timedelta(hours=5), amount_minor=20_000)
    publish(broker, [statement, later, early])
    counts = consume_all(engine, broker)
    assert (counts.applied, counts.dead) == (3, 0)
    with engine.connect() as conn:
        state = account_features(conn)["A1"]
    assert state.last_sequence == 3
    assert state.balance_since_statement_minor == -15_000
    assert state.minimum_paid_on == (START + dt.timedelta(hours=5)).date()
    engine.dispose()


def test_malformed_and_out_of_window_events_are_dead_lettered_with_reasons(
    broker: Broker, tmp_path: Path
) -> None:
    engine = make_store(f"sqlite:///{tmp_path / 's.db'}", ["A1"])
    late = line("purchase", 2, at=START)
    lines = [
        line("statement_issued", 1),
        b"{not json",
        line("purchase", 3, amount_minor=-1),
        line("purchase", 4, at=START + dt.timedelta(days=9)),
        late,
        line("purchase", 5, account="GHOST"),
        line("payment", 6, at=START + dt.timedelta(days=9, hours=1)),
    ]
    publish(broker, lines)
    counts = consume_all(engine, broker, batch=3)
    assert (counts.messages, counts.applied, counts.dead) == (7, 3, 4)
    dead = dead_letters(broker)
    by_field = {d["field"]: d for d in dead}
    assert set(by_field) == {"$", "amount_minor", "occurred_at", "account_id"}
    assert by_field["occurred_at"]["kind"] == "late"
    assert "beyond the late window" in by_field["occurred_at"]["reason"]
    assert by_field["amount_minor"]["event_id"] == "A1-3"
    assert by_field["$"]["payload"] == "{not json"
    engine.dispose()


def test_a_backlog_goes_in_batches_up_to_the_largest_allowed(
    broker: Broker, tmp_path: Path
) -> None:
    engine = make_store(f"sqlite:///{tmp_path / 's.db'}", ["A1"])
    publish(broker, [line("purchase", n) for n in range(1, 61)])
    options = ConsumeOptions(
        batch=10, max_batch=40, ack_wait_s=2.0, fetch_timeout_s=0.5, idle_exit_s=1.0
    )
    stop = asyncio.Event()
    counts = asyncio.run(consume(engine, broker, load_events_policy(), TZ, options, stop))
    assert (counts.messages, counts.applied) == (60, 60)
    assert counts.batches <= 3  # 40 then 20 with the backlog there, not six of 10
    engine.dispose()


def test_a_trickle_goes_in_batches_of_what_came_meanwhile_not_an_event_at_a_time(
    broker: Broker, tmp_path: Path
) -> None:
    # 400 events at 400 a second while the consumer runs: a batch costs about as much for a
    # few events as for hundreds, so each takes what came while the last was decided and
    # written, and what came within the linger (about 15 batches here; one an event is 400).
    engine = make_store(f"sqlite:///{tmp_path / 's.db'}", ["A1"])
    options = ConsumeOptions(batch=100, ack_wait_s=5.0, fetch_timeout_s=0.5, idle_exit_s=1.5)

    async def trickle() -> ConsumeCounts:
        stop = asyncio.Event()
        policy = load_events_policy()
        consumer = asyncio.create_task(consume(engine, broker, policy, TZ, options, stop))
        lines = [line("purchase", n) for n in range(1, 401)]
        await publish_lines(broker, iter(lines), rate=400.0)
        return await consumer

    counts = asyncio.run(trickle())
    assert (counts.messages, counts.applied) == (400, 400)
    assert counts.batches <= 40
    engine.dispose()
