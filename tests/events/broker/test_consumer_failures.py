"""A batch whose write fails stops the consumer: it and every batch after it (planned while
it was written) are neither written nor acknowledged, and come back in order."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from cardpilot.store.events import intake_digests
from cardpilot.stream.broker import Broker, connect
from cardpilot.warning.policy import load_warning_policy

from ..replay_support import (
    accept_receipts,
    account_ids,
    event_id_of,
    first_new_event,
    month_lines,
    refuse_receipt,
    replay,
    scored_store,
)
from .helpers import consume_all, publish

BATCH = 10
WARNING = load_warning_policy()  # as the replay has it: the decisions are compared too


async def _acknowledged(broker: Broker) -> int:
    """The stream sequence up to which the consumer has acknowledged."""
    nc, js = await connect(broker)
    try:
        info = await js.consumer_info(broker.stream, broker.durable)
        return int(info.ack_floor.stream_seq or 0)
    finally:
        await nc.close()


def test_a_failed_write_leaves_the_later_batches_unwritten_and_unacknowledged(
    broker: Broker, tmp_path: Path
) -> None:
    accounts = account_ids(12)
    lines = month_lines(accounts)
    expected = replay(scored_store(f"sqlite:///{tmp_path / 'calm.db'}", accounts), lines, BATCH)

    engine = scored_store(f"sqlite:///{tmp_path / 'failed.db'}", accounts)
    refused = first_new_event([lines[:100], lines[100:]], 1)
    refuse_receipt(engine, refused)
    publish(broker, lines)
    with pytest.raises(Exception, match="receipt refused"):
        consume_all(engine, broker, batch=BATCH, warning=WARNING)
    acknowledged = asyncio.run(_acknowledged(broker))
    position = next(n for n, raw in enumerate(lines, 1) if event_id_of(raw) == refused)
    assert 0 < acknowledged < position
    # What was acknowledged is written, and nothing after it: the batch that failed and the
    # one planned meanwhile left nothing.
    part = scored_store(f"sqlite:///{tmp_path / 'part.db'}", accounts)
    with engine.connect() as conn:
        assert intake_digests(conn) == replay(part, lines[:acknowledged], BATCH)

    accept_receipts(engine)
    consume_all(engine, broker, batch=BATCH, warning=WARNING)
    with engine.connect() as conn:
        assert intake_digests(conn) == expected
