"""Delivery channels. Each takes a batch of addressed messages and says, per message, whether
the receiving side accepted it. Only then does the dispatcher mark a message sent.

A channel reports each outcome as it arrives (``Acks.done``) and asks before sending each
message (``Acks.admit``, or ``Acks.room`` for a single-threaded channel that must keep reading
while it waits), so the dispatcher can record outcomes while the batch is still going and keep
the messages sent but not yet recorded to a bounded window.

Every channel carries the message's idempotency key to the receiver (``Message-ID``, an SMPP
optional parameter, the ``Idempotency-Key`` header), so a resend after a crash can be dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message with its decrypted address: lives only in memory during a send."""

    message_key: str
    customer_id: str
    message_type: str
    locale: str
    address: str
    subject: str | None
    body_text: str
    body_html: str | None


@dataclass(frozen=True, slots=True)
class SendResult:
    ok: bool
    provider_ref: str | None = None
    error: str | None = None
    # A permanent failure (address refused, message rejected) goes dead at once.
    permanent: bool = False


class Acks(Protocol):
    """Where a channel reports outcomes as they arrive; see ``cardpilot.notify.window``."""

    def room(self) -> int:
        """How many more messages may be sent now without waiting."""
        ...

    def admit(self) -> None:
        """Take one place in the window, waiting until there is one."""
        ...

    def done(self, index: int, result: SendResult) -> None:
        """The outcome of ``items[index]``, a message this channel admitted (each index once;
        an outcome of a message never admitted is left to the return value)."""
        ...


class Unbounded:
    """No window: a channel used on its own (tests, previews) sends without waiting."""

    def room(self) -> int:
        return 1 << 30

    def admit(self) -> None:
        return None

    def done(self, index: int, result: SendResult) -> None:
        return None


class Channel(Protocol):
    name: str

    def send_batch(self, items: Sequence[Outgoing], acks: Acks | None = None) -> list[SendResult]:
        """Send ``items``; returns every outcome, and reports each to ``acks`` on arrival."""
        ...

    def keepalive(self) -> None: ...

    def close(self) -> None: ...


def failed_all(items: Sequence[Outgoing], error: str) -> list[SendResult]:
    return [SendResult(ok=False, error=error) for _ in items]
