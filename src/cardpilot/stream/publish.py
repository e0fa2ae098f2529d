"""``cardpilot events publish``: a file of events (JSON lines or Parquet) onto the event stream.

For replaying history: each line (or Parquet row) is published as it is, in file order, which is
the order the consumer applies them in. Nothing is validated here: a malformed line is published
too and reaches the dead-letter subject with its reason, like any malformed event. Blank lines
are skipped. Publishing is asynchronous with a bounded window of unconfirmed messages; the
count returned is of messages the stream confirmed.
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

from cardpilot.domain import progress
from cardpilot.stream.broker import Broker, connect, ensure_streams

# Messages published and not yet confirmed by the stream, at most.
WINDOW = 2_000
# A paced publisher checks the clock every this many messages.
PACE_STEP = 25


class EventFileError(ValueError):
    """A file that cannot be read as events: names the file and what is wrong."""


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


async def publish_lines(broker: Broker, lines: Iterator[bytes], rate: float = 0.0) -> PublishCounts:
    """Publish ``lines`` in order (at most ``rate`` a second); returns what the stream
    confirmed."""
    counts = PublishCounts()
    started = asyncio.get_running_loop().time()
    nc, js = await connect(broker)
    try:
        await ensure_streams(js, broker)
        pending: list[asyncio.Future[Any]] = []
        pace = Pace(rate)
        for line in lines:
            if not line.strip():
                counts.skipped_blank += 1
                continue
            pending.append(await js.publish_async(broker.subject, line))
            await pace.tick()
            if len(pending) >= WINDOW:
                await asyncio.gather(*pending)
                counts.published += len(pending)
                progress.advance(len(pending))
                pending = []
        await asyncio.gather(*pending)
        counts.published += len(pending)
        progress.advance(len(pending))
    finally:
        await nc.close()
    counts.seconds = round(asyncio.get_running_loop().time() - started, 3)
    return counts


async def publish_file(broker: Broker, path: Path, rate: float = 0.0) -> PublishCounts:
    progress.stage(f"publishing {path.name}", count_lines(path))
    return await publish_lines(broker, event_lines(path), rate)
