"""A durable pull consumer's batches off the wire: what is there at once, in stream order, up
to the batch; nothing within the wait is an empty batch; the first message to come ends it."""

from __future__ import annotations

import asyncio

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
