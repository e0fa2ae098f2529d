"""What an event stream holds, for the tests that publish onto one."""

from __future__ import annotations

import asyncio

from cardpilot.stream.broker import Broker, connect


async def _stream_messages(broker: Broker) -> list[bytes]:
    nc, js = await connect(broker)
    try:
        info = await js.stream_info(broker.stream)
        out = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            out.append((await js.get_msg(broker.stream, seq)).data or b"")
        return out if info.state.messages else []
    finally:
        await nc.close()


def stream_messages(broker: Broker) -> list[bytes]:
    """Every message on the broker's event stream, in order."""
    return asyncio.run(_stream_messages(broker))
