"""Where events travel: the NATS server, the event stream and its dead-letter stream.

One stream holds the events (subject ``<prefix>.in``), a second the dead letters
(``<prefix>.dead``). Events of one account keep their publishing order on the one subject, which
is what the consumer's order rule relies on. The consumer is durable and pulls; it acknowledges
with ``AckPolicy.ALL`` (acknowledging a batch's last message acknowledges the batch) and holds
a few batches unacknowledged (the one being written, the next being decided, the one after
arriving meanwhile), so after a crash the batches it held are delivered again, first and in
order.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StreamConfig
from nats.js.errors import NotFoundError

DEFAULT_URL = "nats://127.0.0.1:4222"
DEFAULT_STREAM = "CARDPILOT_EVENTS"
DEFAULT_PREFIX = "cardpilot.events"
DEFAULT_DURABLE = "cardpilot-intake"
# Dead letters of one event id published twice within this window are kept once.
DEAD_DUPLICATE_WINDOW_S = 24 * 3600.0


@dataclass(frozen=True, slots=True)
class Broker:
    """The server and the names the intake uses on it."""

    url: str = DEFAULT_URL
    stream: str = DEFAULT_STREAM
    prefix: str = DEFAULT_PREFIX
    durable: str = DEFAULT_DURABLE

    @property
    def subject(self) -> str:
        return f"{self.prefix}.in"

    @property
    def dead_subject(self) -> str:
        return f"{self.prefix}.dead"

    @property
    def dead_stream(self) -> str:
        return f"{self.stream}_DEAD"

    @classmethod
    def from_env(cls, **overrides: str | None) -> Broker:
        values = {
            "url": os.environ.get("CARDPILOT_NATS_URL", DEFAULT_URL),
            "stream": os.environ.get("CARDPILOT_EVENTS_STREAM", DEFAULT_STREAM),
            "prefix": os.environ.get("CARDPILOT_EVENTS_SUBJECT", DEFAULT_PREFIX),
            "durable": os.environ.get("CARDPILOT_EVENTS_DURABLE", DEFAULT_DURABLE),
        }
        values.update({k: v for k, v in overrides.items() if v})
        return cls(**values)


class BrokerError(RuntimeError):
    """The broker cannot be reached or refuses the intake's streams: says where and why."""


async def connect(broker: Broker) -> tuple[Client, JetStreamContext]:
    try:
        nc = await nats.connect(
            broker.url, connect_timeout=3, max_reconnect_attempts=3, allow_reconnect=True
        )
    except (OSError, TimeoutError, nats.errors.Error) as exc:
        raise BrokerError(
            f"NATS not reachable at {broker.url} ({exc or type(exc).__name__}); "
            "start nats-server with JetStream (-js) or set CARDPILOT_NATS_URL"
        ) from exc
    return nc, nc.jetstream()


async def ensure_streams(js: JetStreamContext, broker: Broker) -> None:
    """The event and dead-letter streams, made when missing (a made one is left as it is)."""
    wanted = [
        StreamConfig(name=broker.stream, subjects=[broker.subject]),
        StreamConfig(
            name=broker.dead_stream,
            subjects=[broker.dead_subject],
            duplicate_window=DEAD_DUPLICATE_WINDOW_S,
        ),
    ]
    for config in wanted:
        assert config.name is not None
        try:
            await js.stream_info(config.name)
        except NotFoundError:
            await js.add_stream(config)


# Batches in a consumer's intake at once: the one being written and the next being decided.
INTAKE_BATCHES = 2


def consumer_config(
    broker: Broker, batch: int, ack_wait_s: float, in_intake: int = INTAKE_BATCHES
) -> ConsumerConfig:
    """The durable consumer of batches of at most ``batch`` messages, holding unacknowledged
    at most the ``in_intake`` batches in its intake and the one after them, arriving."""
    batches = in_intake + 1
    return ConsumerConfig(
        durable_name=broker.durable,
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.ALL,
        ack_wait=ack_wait_s,
        max_ack_pending=batch * batches,
        filter_subject=broker.subject,
    )
