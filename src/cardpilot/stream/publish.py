"""``cardpilot events publish``: a file of events (JSON lines or Parquet) onto the event stream.

For replaying history: each line (or Parquet row) is published as it is, in file order, which is
the order the consumer applies them in. Nothing is validated here: a malformed line is published
too and reaches the dead-letter subject with its reason, like any malformed event. Blank lines
are skipped.

Lines go out as plain NATS messages on the stream's subject (the stream stores them; no
acknowledgement each, which would cost more than the rest of the publishing), and every
``WINDOW``-th line, and the last, as a JetStream publish whose acknowledgement comes once the
stream has stored it and, one connection keeping its order, every line before it. So at most
two windows are unconfirmed, and each acknowledgement's stream sequence tells how many were
stored since the one before: fewer than were sent (a stream refusing messages, at its limits)
fails the publish with the count. The count returned is of lines the stream confirmed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from nats.js import JetStreamContext

from cardpilot.domain import progress
from cardpilot.stream.broker import Broker, connect, ensure_streams

# Lines published between two confirmed by the stream.
WINDOW = 2_000
# A paced publisher checks the clock every this many messages.
PACE_STEP = 25


class EventFileError(ValueError):
    """A file that cannot be read as events: names the file and what is wrong."""


class PublishError(RuntimeError):
    """The stream stored fewer lines than were published: says how many."""


@dataclass(slots=True)
class PublishCounts:
    published: int = 0
    skipped_blank: int = 0
    seconds: float = 0.0

    def as_json(self) -> dict[str, object]:
        return asdict(self)


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    raise TypeError(f"not JSON: {type(value).__name__}")


def parquet_lines(path: Path) -> Iterator[bytes]:
    """Each row of a Parquet file of events as its JSON (null columns left out)."""
    import pyarrow.parquet as pq

    try:
        table = pq.ParquetFile(path)
    except (OSError, ValueError) as exc:
        raise EventFileError(f"{path}: not a Parquet file: {exc}") from exc
    for batch in table.iter_batches(batch_size=10_000):
        for row in batch.to_pylist():
            event = {k: v for k, v in row.items() if v is not None}
            yield json.dumps(event, default=_json_value, separators=(",", ":")).encode()


def event_lines(path: Path) -> Iterator[bytes]:
    """The events of ``path``: JSON lines (``.jsonl``, ``.json``, ``.ndjson``) or Parquet."""
    if not path.is_file():
        raise EventFileError(f"{path}: no such file")
    if path.suffix.lower() == ".parquet":
        yield from parquet_lines(path)
        return
    with path.open("rb") as lines:
        for line in lines:
            yield line.rstrip(b"\r\n")


def count_lines(path: Path) -> int | None:
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(path).metadata.num_rows)
    with path.open("rb") as lines:
        return sum(1 for line in lines if line.strip())


class Pace:
    """At most ``rate`` messages a second (0: as fast as the broker confirms them)."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.sent = 0
        self.started = time.perf_counter()

    async def tick(self) -> None:
        self.sent += 1
        if self.rate <= 0 or self.sent % PACE_STEP:
            return
        ahead = self.sent / self.rate - (time.perf_counter() - self.started)
        if ahead > 0:
            await asyncio.sleep(ahead)


class Checkpoints:
    """The lines sent since the last confirmed one, and the confirmations still awaited."""

    def __init__(self, js: JetStreamContext, subject: str) -> None:
        self.js, self.subject = js, subject
        self.sent = 0  # lines sent since the last checkpoint
        self.confirmed = 0
        self.last_seq: int | None = None
        self.pending: tuple[asyncio.Future[Any], int] | None = None

    def due(self) -> bool:
        """Whether the next line goes out confirmed: the first, and one a window."""
        first = self.last_seq is None and self.pending is None
        return first or self.sent + 1 >= WINDOW

    async def send(self, line: bytes) -> None:
        """``line`` as a confirmed JetStream publish; waits for the one before it."""
        future = await self.js.publish_async(self.subject, line)
        await self.settle()
        self.pending, self.sent = (future, self.sent + 1), 0

    async def settle(self) -> None:
        if self.pending is None:
            return
        future, lines = self.pending
        self.pending = None
        ack = await future
        if self.last_seq is not None and ack.seq - self.last_seq < lines:
            stored = ack.seq - self.last_seq
            raise PublishError(
                f"the stream stored {stored} of {lines} lines published "
                f"(after {self.confirmed} confirmed); is it at its limits?"
            )
        self.last_seq = ack.seq
        self.confirmed += lines
        progress.advance(lines)


async def publish_lines(broker: Broker, lines: Iterator[bytes], rate: float = 0.0) -> PublishCounts:
    """Publish ``lines`` in order (at most ``rate`` a second); returns what the stream
    confirmed."""
    counts = PublishCounts()
    started = asyncio.get_running_loop().time()
    nc, js = await connect(broker)
    try:
        await ensure_streams(js, broker)
        marks = Checkpoints(js, broker.subject)
        pace = Pace(rate)
        subject = broker.subject
        held: bytes | None = None  # one line behind: the last goes out confirmed
        for line in lines:
            if not line.strip():
                counts.skipped_blank += 1
                continue
            if held is not None:
                if marks.due():
                    await marks.send(held)
                else:
                    await nc.publish(subject, held)
                    marks.sent += 1
                await pace.tick()
            held = line
        if held is not None:
            await marks.send(held)
        await marks.settle()
        counts.published = marks.confirmed
    finally:
        await nc.close()
    counts.seconds = round(asyncio.get_running_loop().time() - started, 3)
    return counts


async def publish_file(broker: Broker, path: Path, rate: float = 0.0) -> PublishCounts:
    progress.stage(f"publishing {path.name}", count_lines(path))
    return await publish_lines(broker, event_lines(path), rate)
