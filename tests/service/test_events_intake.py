"""Events intake over HTTP: a batch validated as the consumer validates it, the valid events
published onto the stream in the batch's order (the real NATS server on loopback), each
malformed one named by its index, field and reason, the consumer applying what was published,
every publishing call audited, and 503 when the broker is down."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from routes_support import delete_streams, isolated_broker
from service_support import Service

from cardpilot.events.policy import load_events_policy
from cardpilot.store.audit import iter_records
from cardpilot.stream.broker import Broker
from cardpilot.stream.consumer import ConsumeOptions, consume
from support.streams import stream_messages

UTC8 = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture
def broker(service: Service) -> Iterator[Broker]:
    """The service publishes onto streams of this test's own."""
    state: Any = service.state
    kept, state.broker = state.broker, isolated_broker()
    yield state.broker
    delete_streams(state.broker)
    state.broker = kept


def _event(account: str, seq: int, **fields: Any) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "event_id": f"{account}-{uuid.uuid4().hex[:12]}",
        "account_id": account,
        "sequence": seq,
        "occurred_at": dt.datetime(2026, 11, 2, 9 + seq, tzinfo=UTC8).isoformat(),
        "type": "purchase",
        "amount_minor": 10_000 * seq,
        "currency": "CNY",
    } | fields


def _send(service: Service, events: list[Any], role: str = "system") -> httpx.Response:
    return httpx.post(
        f"{service.url}/v1/events",
        json={"events": events},
        headers=service.headers[role],
        timeout=60,
    )


def test_valid_events_are_published_onto_the_stream_in_the_batch_order(service, broker):
    events = [_event(service.account_id, n) for n in (1, 2, 3)]
    reply = _send(service, events)
    assert reply.status_code == 202, reply.text
    assert reply.json() == {"published": 3, "rejected": [], "subject": broker.subject}
    published = [json.loads(m) for m in stream_messages(broker)]
    assert [e["event_id"] for e in published] == [e["event_id"] for e in events]
    assert published[1]["amount_minor"] == 20_000


def test_each_malformed_event_is_named_and_the_rest_of_the_batch_published(service, broker):
    good = _event(service.account_id, 1)
    no_amount = {k: v for k, v in _event(service.account_id, 2).items() if k != "amount_minor"}
    unknown_type = _event(service.account_id, 3, type="gift")
    naive_time = _event(service.account_id, 4, occurred_at="2026-11-02T13:00:00")
    reply = _send(service, [no_amount, good, unknown_type, naive_time])
    assert reply.status_code == 202, reply.text
    body = reply.json()
    assert body["published"] == 1
    assert [(r["index"], r["field"]) for r in body["rejected"]] == [
        (0, "amount_minor"),
        (2, "type"),
        (3, "occurred_at"),
    ]
    assert body["rejected"][0]["event_id"] == no_amount["event_id"]
    assert "gift" in body["rejected"][1]["reason"]
    assert [json.loads(m)["event_id"] for m in stream_messages(broker)] == [good["event_id"]]


def test_what_the_service_publishes_the_consumer_applies_to_the_store(service, broker):
    events = [_event(service.account_id, n) for n in (1, 2)]
    assert _send(service, events).json()["published"] == 2
    options = ConsumeOptions(batch=50, ack_wait_s=2.0, fetch_timeout_s=0.5, idle_exit_s=1.0)
    counts = asyncio.run(
        consume(
            service.state.db,  # type: ignore[attr-defined]
            broker,
            load_events_policy(),
            ZoneInfo("Asia/Shanghai"),
            options,
            asyncio.Event(),
        )
    )
    assert (counts.messages, counts.applied, counts.dead) == (2, 2, 0)


def test_every_publishing_call_is_audited_with_the_caller_and_the_batch_digest(service, broker):
    def records() -> list[Any]:
        db = service.state.db  # type: ignore[attr-defined]
        return [r for r in iter_records(db) if r.action == "events.publish"]

    before = len(records())
    assert _send(service, [_event(service.account_id, 1)], role="admin").status_code == 202
    assert _send(service, [{"type": "purchase"}], role="admin").json()["published"] == 0
    after = records()
    assert len(after) == before + 1  # nothing published: nothing changed, nothing audited
    record = after[-1].as_json()
    assert record["actor"] == "user:admin-1"
    assert record["subject"] == f"stream:{broker.stream}"
    assert record["payload"]["published"] == 1
    assert len(record["payload"]["digest"]) == 64


def test_a_batch_is_refused_with_503_when_the_broker_is_down(service):
    state: Any = service.state
    kept, state.broker = state.broker, Broker(url="nats://127.0.0.1:9", stream="DOWN")
    try:
        down = _send(service, [_event(service.account_id, 1)])
        nothing_to_send = _send(service, [{"schema_version": 2}])
    finally:
        state.broker = kept
    assert down.status_code == 503
    assert down.headers["content-type"] == "application/problem+json"
    assert "NATS not reachable" in down.json()["detail"]
    assert nothing_to_send.status_code == 202
    assert nothing_to_send.json()["rejected"][0]["field"] == "schema_version"


def test_an_empty_or_oversized_batch_is_invalid(service):
    assert _send(service, []).status_code == 422
    too_many = [_event(service.account_id, 1)] * 1_001
    reply = _send(service, too_many)
    assert reply.status_code == 422
    assert reply.headers["content-type"] == "application/problem+json"
