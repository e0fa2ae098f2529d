"""Each event as ledger postings (``ledger.postings`` kinds), keyed by its event id.

The idempotency key is ``ev:<event_id>``: writing an event's postings twice (a redelivery, a
replay of history) adds them once. The posting takes effect when the event occurred, in the
issuer's time zone, so its business day is the issuer's and an event that arrives late sorts
into its place in the account's ledger.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import NamedTuple

from cardpilot.events.schema import (
    CashAdvance,
    ContactOutcome,
    Event,
    Payment,
    Purchase,
    Refund,
    Reversal,
    StatementIssued,
)
from cardpilot.ledger.postings import Component, Kind, Posting, Source

KEY_PREFIX = "ev:"
# A reversal of one of these lowers what the cardholder owes; of the others it raises it.
CHARGES = frozenset({"purchase", "cash_advance"})


def event_key(event_id: str) -> str:
    return f"{KEY_PREFIX}{event_id}"


def _detail(**fields: object) -> str:
    return json.dumps(
        {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in fields.items()},
        sort_keys=True,
        separators=(",", ":"),
    )


def _posting(
    event: Event,
    kind: Kind,
    tz: dt.tzinfo,
    amount: int | None = None,
    *,
    money: bool = True,
    reference: str | None = None,
    detail: str | None = None,
) -> Posting:
    return Posting(
        account_id=event.account_id,
        kind=kind,
        effective_at=event.occurred_at.astimezone(tz),
        source=Source.EVENT,
        idempotency_key=event_key(event.event_id),
        amount_minor=amount,
        currency=getattr(event, "currency", None) if amount is not None else None,
        component=Component.PRINCIPAL if money else None,
        reference=reference,
        detail=detail,
    )


class PostingFields(NamedTuple):
    """What an event's posting holds besides the event's account, time and key."""

    kind: Kind
    amount_minor: int | None
    money: bool  # moves principal (else a memo of the statement or the contact)
    reference: str | None = None
    detail: str | None = None


def posting_fields(event: Event) -> PostingFields:
    """The kind, amount, reference and detail of ``event``'s posting."""
    match event:
        case Purchase():
            return PostingFields(Kind.PURCHASE, event.amount_minor, True)
        case CashAdvance():
            return PostingFields(Kind.CASH_ADVANCE, event.amount_minor, True)
        case Refund():
            ref = event_key(event.refunds_event_id) if event.refunds_event_id else None
            return PostingFields(Kind.REFUND, -event.amount_minor, True, ref)
        case Payment():
            return PostingFields(Kind.PAYMENT, -event.amount_minor, True)
        case Reversal():
            sign = -1 if event.reversed_type in CHARGES else 1
            return PostingFields(
                Kind.REVERSAL,
                sign * event.amount_minor,
                True,
                event_key(event.reverses_event_id),
                _detail(reversed_type=event.reversed_type),
            )
        case StatementIssued():
            detail = _detail(
                cycle_date=event.cycle_date,
                due_date=event.due_date,
                minimum_due_minor=event.minimum_due_minor,
                credit_limit_minor=event.credit_limit_minor,
            )
            amount = event.statement_balance_minor
            return PostingFields(Kind.STATEMENT_ISSUED, amount, False, None, detail)
        case ContactOutcome():
            detail = _detail(
                channel=event.channel,
                outcome=event.outcome,
                promised_amount_minor=event.promised_amount_minor,
                promised_on=event.promised_on,
            )
            return PostingFields(Kind.CONTACT, None, False, None, detail)
    raise TypeError(f"not an event: {type(event).__name__}")  # pragma: no cover


def event_postings(event: Event, tz: dt.tzinfo) -> list[Posting]:
    """The postings ``event`` writes (one per event)."""
    f = posting_fields(event)
    return [
        _posting(
            event, f.kind, tz, f.amount_minor, money=f.money, reference=f.reference, detail=f.detail
        )
    ]
