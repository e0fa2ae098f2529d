"""``events publish``: lines go out unconfirmed between confirmed ones, all stored in file order;
a stream that stores fewer than were sent fails the publish with the count."""

from __future__ import annotations

import asyncio

import pytest
from nats.js.api import DiscardPolicy, StreamConfig

from cardpilot.stream import publish as publishing
from cardpilot.stream.broker import Broker, connect, ensure_streams
from cardpilot.stream.publish import PublishError
from support.streams import stream_messages

from .helpers import publish


def test_every_line_is_stored_in_file_order_across_windows(
    broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(publishing, "WINDOW", 3)
    lines = [f'{{"n":{n}}}'.encode() for n in range(11)]
    counts = publish(broker, [*lines[:5], b"  ", *lines[5:]])
    assert (counts.published, counts.skipped_blank) == (11, 1)
    assert stream_messages(broker) == lines


def test_a_stream_that_drops_lines_fails_the_publish_with_the_count(
    broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def small_stream() -> None:
        nc, js = await connect(broker)
        try:
            # Refuses what would pass 1,000 bytes: the second large line, not the small last.
            config = StreamConfig(
                name=broker.stream,
                subjects=[broker.subject],
                max_bytes=1_000,
                discard=DiscardPolicy.NEW,
            )
            await js.add_stream(config)
            await ensure_streams(js, broker)
        finally:
            await nc.close()

    asyncio.run(small_stream())
    monkeypatch.setattr(publishing, "WINDOW", 3)
    large = b'{"pad":"' + b"x" * 600 + b'"}'
    with pytest.raises(PublishError, match="stored 2 of 3 lines"):
        publish(broker, [b"{}", large, large, b"{}"])
