"""A durable pull consumer's batches, taken off the wire as they come.

nats-py's ``fetch`` waits for each message of a batch on its own (a timed wait a message),
which cost the consumer more than deciding the event. Here the pull requests are sent as
``fetch`` sends them (``$JS.API.CONSUMER.MSG.NEXT``: first without waiting, for what is there;
then, when nothing was, waiting up to the timeout for the first) and their messages land on
one inbox subscription whose callback only appends them. A request's end is its status message
(404 nothing more, 408 its wait is over, 409 a conflict) or its batch being full; messages of a
request that come after the batch was handed over are kept, in order, for the next one.

At most one request is open at a time, so every message that comes counts against it and a
full request is known to have ended without a status. A request is also taken as ended once its
wait is over (and a little more): the server can drop an expired request that had some of its
batch without a status, and a request thought open would never be asked again. A message of a
request given up on that still comes is kept like any other: the server delivers the consumer's
messages in stream order whichever request they answer, on the one connection.

``ask_ahead`` opens a request while the caller is busy with the batch in hand: the next batch
then arrives (and its frames are parsed) while the last is being decided, and is there when the
caller comes back.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections import deque

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.api import Header, StatusCode

# Statuses that end a pull request; 100 (idle heartbeat) does not.
ENDS = frozenset({StatusCode.NO_MESSAGES, StatusCode.REQUEST_TIMEOUT, StatusCode.CONFLICT})
# Seconds past a request's wait after which it is taken as ended, status or not.
GRACE_S = 0.1


class PullBatches:
    """Batches of a durable pull consumer ``durable`` of ``stream``."""

    def __init__(self, nc: Client, stream: str, durable: str) -> None:
        self.nc = nc
        self.next_subject = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}"
        self.inbox = nc.new_inbox()
        self.received: deque[Msg] = deque()
        self.arrived = asyncio.Event()
        self.request = 0  # the latest request's number
        self.owed = 0  # messages the open request may still bring (0: none is open)
        self.open_until = 0.0  # loop time after which it is taken as ended
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
            if self.owed:
                self.owed -= 1
        elif status in ENDS and int(msg.subject.rsplit(".", 1)[1]) == self.request:
            self.owed = 0
        self.arrived.set()

    async def _ask(self, batch: int, wait_s: float | None) -> None:
        self.request += 1
        ask: dict[str, object] = {"batch": batch}
        if wait_s is None:
            ask["no_wait"] = True
        else:
            ask["expires"] = max(int(wait_s * 1e9), 1_000_000)
        self.owed = batch
        self.open_until = asyncio.get_running_loop().time() + (wait_s or 0.0) + GRACE_S
        await self.nc.publish(
            self.next_subject, json.dumps(ask).encode(), reply=f"{self.inbox}.{self.request}"
        )

    def _open(self, now: float) -> bool:
        """Whether a request is open (one past its wait is not, whatever it still owes)."""
        if self.owed and now >= self.open_until:
            self.owed = 0
        return self.owed > 0

    async def _until(self, enough: int, timeout: float, asking: int = 0) -> None:
        """Wait until ``enough`` messages are in hand, the open request has ended, or
        ``timeout``; with ``asking``, a request for up to that many more is kept open instead
        (each waiting what is left of the timeout), so only the timeout ends the wait."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(self.received) < enough:
            now = loop.time()
            left = deadline - now
            if left <= 0:
                return
            if not self._open(now):
                if not asking:
                    return
                await self._ask(asking, left)
            self.arrived.clear()
            try:
                await asyncio.wait_for(self.arrived.wait(), min(left, self.open_until - now))
            except TimeoutError:
                continue

    def _take(self, batch: int) -> list[Msg]:
        return [self.received.popleft() for _ in range(min(batch, len(self.received)))]

    async def fetch(self, batch: int, timeout: float, wait: bool = True) -> list[Msg]:
        """Up to ``batch`` messages in stream order: what the consumer has now, else (``wait``)
        the first to come within ``timeout`` (none: an empty list)."""
        now = asyncio.get_running_loop().time()
        if not self.received:
            if self._open(now):
                # A request asked ahead is still open: its first message is the batch's start.
                await self._until(1, timeout)
            else:
                await self._ask(batch, None)
                await self._until(batch, timeout)
        if not self.received and wait:
            if not self._open(asyncio.get_running_loop().time()):
                await self._ask(batch, timeout)
            await self._until(1, timeout)
        return self._take(batch)

    async def more(self, enough: int, most: int, within: float) -> list[Msg]:
        """Wait up to ``within`` for ``enough`` messages in hand (asking for them as needed),
        then up to ``most`` of what is in hand."""
        await self._until(enough, within, asking=most)
        return self._take(most)

    def in_hand(self, most: int) -> list[Msg]:
        """Up to ``most`` of what is in hand, without waiting or asking."""
        return self._take(most)

    async def held(self, most: int, timeout: float) -> list[Msg]:
        """Without asking for more: up to ``most`` of what is in hand once the open request
        has ended (waiting up to ``timeout`` for it), so a consumer that stops can finish what
        was sent to it rather than leave it to come back after the ack wait."""
        await self._until(sys.maxsize, timeout)
        return self._take(most)

    async def ask_ahead(self, batch: int, wait_s: float) -> None:
        """Ask for up to ``batch`` more, waiting up to ``wait_s`` for them to be stored, unless
        a request is still open (it brings them)."""
        if not self._open(asyncio.get_running_loop().time()):
            await self._ask(batch, wait_s)
