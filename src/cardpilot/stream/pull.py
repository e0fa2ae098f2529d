"""A durable pull consumer's batches, taken off the wire as they come.

nats-py's ``fetch`` waits for each message of a batch on its own (a timed wait a message),
which cost the consumer more than deciding the event. Here the pull requests are sent as
``fetch`` sends them (``$JS.API.CONSUMER.MSG.NEXT``: first without waiting, for what is there;
then, when nothing was, waiting up to the timeout for the first) and their messages land on
one inbox subscription whose callback only appends them. A request's end is its status message
(404 nothing more, 408 its wait is over, 409 a conflict) or its batch being full; messages of a
request that come after the batch was handed over are kept, in order, for the next one.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.api import Header, StatusCode

# Statuses that end a pull request; 100 (idle heartbeat) does not.
ENDS = frozenset({StatusCode.NO_MESSAGES, StatusCode.REQUEST_TIMEOUT, StatusCode.CONFLICT})


class PullBatches:
    """Batches of a durable pull consumer ``durable`` of ``stream``."""

    def __init__(self, nc: Client, stream: str, durable: str) -> None:
        self.nc = nc
        self.next_subject = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}"
        self.inbox = nc.new_inbox()
        self.received: deque[Msg] = deque()
        self.arrived = asyncio.Event()
        self.request = 0  # the latest request's number
        self.ended = False  # whether the server has ended it
        self.sub: Subscription | None = None

    async def start(self) -> None:
        self.sub = await self.nc.subscribe(f"{self.inbox}.*", cb=self._on_message)

    async def stop(self) -> None:
        if self.sub is not None:
            await self.sub.unsubscribe()
            self.sub = None

    async def _on_message(self, msg: Msg) -> None:
        status = msg.headers.get(Header.STATUS) if msg.headers else None
        if status is None:
            self.received.append(msg)
        elif status in ENDS and int(msg.subject.rsplit(".", 1)[1]) == self.request:
            self.ended = True
        self.arrived.set()

    async def _ask(self, batch: int, wait_s: float | None) -> None:
        self.request += 1
        ask: dict[str, object] = {"batch": batch}
        if wait_s is None:
            ask["no_wait"] = True
        else:
            ask["expires"] = int(wait_s * 1e9)
        self.ended = False
        await self.nc.publish(
            self.next_subject, json.dumps(ask).encode(), reply=f"{self.inbox}.{self.request}"
        )

    async def _until(self, enough: int, timeout: float) -> None:
        """Wait until ``enough`` messages are in hand, the request has ended, or ``timeout``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(self.received) < enough and not self.ended:
            left = deadline - loop.time()
            if left <= 0:
                return
            self.arrived.clear()
            try:
                await asyncio.wait_for(self.arrived.wait(), left)
            except TimeoutError:
                return

    def _take(self, batch: int) -> list[Msg]:
        return [self.received.popleft() for _ in range(min(batch, len(self.received)))]

    async def fetch(self, batch: int, timeout: float, wait: bool = True) -> list[Msg]:
        """Up to ``batch`` messages in stream order: what the consumer has now, else (``wait``)
        the first to come within ``timeout`` (none: an empty list)."""
        if not self.received:
            await self._ask(batch, None)
            await self._until(batch, timeout)
        if not self.received and wait:
            await self._ask(batch, timeout)
            await self._until(1, timeout)
        return self._take(batch)
