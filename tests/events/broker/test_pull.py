"""A durable pull consumer's batches off the wire: what is there at once, in stream order, up
to the batch; nothing within the wait is an empty batch; the first message to come ends it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from cardpilot.stream.broker import Broker, connect, consumer_config, ensure_streams
from cardpilot.stream.pull import PullBatches


async def _batches(broker: Broker, published: int, sizes: list[int]) -> list[list[bytes]]:
    nc, js = await connect(broker)
    try:
        await ensure_streams(js, broker)
        await js.add_consumer(broker.stream, config=consumer_config(broker, 4, 30))
        for n in range(published):
            await js.publish(broker.subject, str(n).encode())
        pull = PullBatches(nc, broker.stream, broker.durable)
        await pull.start()
        out = []
        for size in sizes:
            msgs = await pull.fetch(size, timeout=0.3)
            out.append([m.data for m in msgs])
            if msgs:
                await msgs[-1].ack_sync()
        late = asyncio.create_task(pull.fetch(4, timeout=5))
        await asyncio.sleep(0.2)
        await js.publish(broker.subject, b"late")
        out.append([m.data for m in await late])
        await pull.stop()
        return out
    finally:
        await nc.close()


def test_batches_come_in_stream_order_and_an_idle_wait_gives_none(broker: Broker) -> None:
    got = asyncio.run(_batches(broker, 6, [4, 4, 4]))
    assert got == [[b"0", b"1", b"2", b"3"], [b"4", b"5"], [], [b"late"]]


@contextlib.asynccontextmanager
async def _pulling(broker: Broker, batch: int, published: int) -> AsyncIterator[PullBatches]:
    """A durable consumer of batches of ``batch``, the stream holding ``published`` messages
    (their numbers)."""
    nc, js = await connect(broker)
    try:
        await ensure_streams(js, broker)
        await js.add_consumer(broker.stream, config=consumer_config(broker, batch, 30))
        for n in range(published):
            await js.publish(broker.subject, str(n).encode())
        pull = PullBatches(nc, broker.stream, broker.durable)
        await pull.start()
        yield pull
        await pull.stop()
    finally:
        await nc.close()


async def _asked_ahead(broker: Broker) -> tuple[list[bytes], list[bytes], list[bytes], int]:
    async with _pulling(broker, 4, 10) as pull:
        first = await pull.fetch(4, timeout=0.3)
        await pull.ask_ahead(4, 0.3)
        await asyncio.sleep(0.2)  # busy with the first batch: the next arrives meanwhile
        in_hand = len(pull.received)
        await first[-1].ack_sync()
        second = await pull.fetch(4, timeout=0.3)
        await second[-1].ack_sync()
        rest = await pull.held(4, timeout=0.3)
    return [m.data for m in first], [m.data for m in second], [m.data for m in rest], in_hand


def test_a_batch_asked_ahead_arrives_while_the_last_is_in_hand_and_keeps_the_order(
    broker: Broker,
) -> None:
    first, second, rest, in_hand = asyncio.run(_asked_ahead(broker))
    assert in_hand == 4
    assert first == [b"0", b"1", b"2", b"3"]
    assert second == [b"4", b"5", b"6", b"7"]
    assert rest == []  # held asks for nothing more


async def _lingered(broker: Broker) -> list[list[bytes]]:
    nc, js = await connect(broker)
    try:
        await ensure_streams(js, broker)
        await js.add_consumer(broker.stream, config=consumer_config(broker, 10, 30))
        pull = PullBatches(nc, broker.stream, broker.durable)
        await pull.start()
        await js.publish(broker.subject, b"0")
        first = await pull.fetch(10, timeout=0.3)

        async def trickle() -> None:
            for n in range(1, 4):
                await asyncio.sleep(0.05)
                await js.publish(broker.subject, str(n).encode())

        task = asyncio.create_task(trickle())
        more = await pull.more(3, 9, within=2.0)
        await task
        await (more or first)[-1].ack_sync()
        await pull.stop()
        return [[m.data for m in first], [m.data for m in more]]
    finally:
        await nc.close()


def test_a_short_batch_lingers_for_more_until_it_has_enough(broker: Broker) -> None:
    assert asyncio.run(_lingered(broker)) == [[b"0"], [b"1", b"2", b"3"]]


async def _cancelled_more(broker: Broker) -> tuple[list[bytes], list[bytes]]:
    async with _pulling(broker, 10, 6) as pull:
        first = await pull.fetch(2, timeout=0.3)
        waiting = asyncio.create_task(pull.more(10, 10, 5.0))
        await asyncio.sleep(0.3)  # the rest arrives; ten are never there
        waiting.cancel()
        await asyncio.wait({waiting})
        rest = pull.in_hand(10)
    return [m.data for m in first], [m.data for m in rest]


def test_a_wait_for_more_given_up_leaves_what_came_in_hand(broker: Broker) -> None:
    first, rest = asyncio.run(_cancelled_more(broker))
    assert first == [b"0", b"1"]
    assert rest == [b"2", b"3", b"4", b"5"]
