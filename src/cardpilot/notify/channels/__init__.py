"""Delivery channels. Each takes a batch of addressed messages and says, per message, whether
the receiving side accepted it. Only then does the dispatcher mark a message sent.

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


class Channel(Protocol):
    name: str

    def send_batch(self, items: Sequence[Outgoing]) -> list[SendResult]: ...

    def keepalive(self) -> None: ...

    def close(self) -> None: ...


def failed_all(items: Sequence[Outgoing], error: str) -> list[SendResult]:
    return [SendResult(ok=False, error=error) for _ in items]
