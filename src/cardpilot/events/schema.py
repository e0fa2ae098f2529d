"""Spending and repayment events: the versioned JSON that arrives on the broker.

Every event carries ``schema_version``, its own ``event_id`` (unique across the stream: the
consumer's idempotency key), the ``account_id``, the account's ``sequence`` number (1, 2, 3, …
per account, in the order the issuer's system recorded them), ``occurred_at`` with its time zone
offset, and a ``type`` that selects the rest of its fields. Money is integer minor units with an
ISO 4217 currency. The JSON Schema (``event_json_schema``) is generated from these models and
kept in ``docs/events.schema.json``; a test keeps the two equal.
"""

from __future__ import annotations

import datetime as dt
import json
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter

SCHEMA_VERSION = 1
SUPPORTED_VERSIONS = frozenset({1})


class EventType(StrEnum):
    PURCHASE = "purchase"
    CASH_ADVANCE = "cash_advance"
    REFUND = "refund"
    PAYMENT = "payment"
    REVERSAL = "reversal"
    STATEMENT_ISSUED = "statement_issued"
    CONTACT_OUTCOME = "contact_outcome"


Id = Annotated[str, Field(min_length=1, max_length=120, pattern=r"^[A-Za-z0-9._:\-]+$")]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code")]
PositiveMinor = Annotated[int, Field(gt=0, description="integer minor units (fen, cents)")]
NonNegativeMinor = Annotated[int, Field(ge=0, description="integer minor units")]


class EventBase(BaseModel):
    """What every event carries."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)

    schema_version: Literal[1] = Field(description="version of this schema the event follows")
    event_id: Id = Field(description="unique per event; the same id twice is the same event")
    account_id: Id
    sequence: int = Field(ge=1, description="the account's event number: 1, 2, 3, …")
    occurred_at: AwareDatetime = Field(description="ISO 8601 with its offset")


class MoneyEvent(EventBase):
    amount_minor: PositiveMinor
    currency: Currency


class Purchase(MoneyEvent):
    type: Literal["purchase"]
    merchant_category: str | None = Field(default=None, max_length=8, description="MCC")


class CashAdvance(MoneyEvent):
    type: Literal["cash_advance"]


class Refund(MoneyEvent):
    type: Literal["refund"]
    refunds_event_id: Id | None = Field(default=None, description="the purchase refunded")


class Payment(MoneyEvent):
    type: Literal["payment"]


class Reversal(MoneyEvent):
    """Takes back (part of) an earlier money event: a charge reversed lowers the balance, a
    payment or refund reversed (a bounced payment) raises it."""

    type: Literal["reversal"]
    reverses_event_id: Id
    reversed_type: Literal["purchase", "cash_advance", "refund", "payment"]


class StatementIssued(EventBase):
    type: Literal["statement_issued"]
    cycle_date: dt.date
    due_date: dt.date
    statement_balance_minor: int = Field(description="closing balance; negative: in credit")
    minimum_due_minor: NonNegativeMinor
    credit_limit_minor: PositiveMinor
    currency: Currency


class ContactOutcome(EventBase):
    type: Literal["contact_outcome"]
    channel: Literal["sms", "email", "app", "call", "letter", "visit"]
    outcome: Literal["reached", "no_answer", "promise_to_pay", "refused", "wrong_contact"]
    promised_amount_minor: NonNegativeMinor | None = None
    promised_on: dt.date | None = None


Event = Annotated[
    Purchase | CashAdvance | Refund | Payment | Reversal | StatementIssued | ContactOutcome,
    Field(discriminator="type"),
]
EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


def event_json_schema() -> dict[str, Any]:
    """The JSON Schema of an event (all types, selected by ``type``)."""
    schema = EVENT_ADAPTER.json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://cardpilot.dev/schemas/event-v{SCHEMA_VERSION}.json",
        "title": f"cardpilot spending and repayment event, schema version {SCHEMA_VERSION}",
        **schema,
    }


def event_json_schema_text() -> str:
    return json.dumps(event_json_schema(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def to_json(event: EventBase) -> bytes:
    """An event as the JSON published on the broker."""
    return event.model_dump_json(exclude_none=True).encode()
