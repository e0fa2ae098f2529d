"""The applied events of a batch as the two frames the intake needs: what the features fold
over (``EVENT_SCHEMA``) and the ledger postings (``POSTING_SCHEMA``), in one pass.

Each event gives one tuple of everything both frames take from it, by a function of its type
(the common money events read only their amount and currency; the others go through
``events.features.money_effect`` and ``events.postings.posting_fields``, the per-event
definitions these frames are proven equal to), and the tuples are turned into columns once:
reading each event's fields twice, a value at a time, into two sets of lists cost more than
the rest of the batch's planning.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

import polars as pl

from cardpilot.events.feature_frames import CONTACT, MONEY, STATEMENT, UTC_US
from cardpilot.events.features import money_effect
from cardpilot.events.postings import CHARGES, KEY_PREFIX, posting_fields
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
from cardpilot.ledger.postings import POSTING_SCHEMA, Component, Kind, Source

EVENT_SCHEMA: dict[str, pl.DataType] = {
    "pos": pl.Int64(),
    "account_id": pl.String(),
    "sequence": pl.Int64(),
    "at": UTC_US,
    "kind": pl.Int8(),
    "bal": pl.Int64(),
    "paid": pl.Int64(),
    "spend": pl.Int64(),
    "payment": pl.Boolean(),
    "cash": pl.Boolean(),
    "s_balance": pl.Int64(),
    "s_limit": pl.Int64(),
    "s_min_due": pl.Int64(),
    "s_due": pl.Date(),
    "s_currency": pl.String(),
    "outcome": pl.String(),
}

# What each event's tuple holds, in order: its ``EVENT_SCHEMA`` figures, then its posting's.
_TAKEN: dict[str, pl.DataType] = {
    **{c: EVENT_SCHEMA[c] for c in ("kind", "bal", "paid", "spend", "payment", "cash")},
    **{c: EVENT_SCHEMA[c] for c in ("s_balance", "s_limit", "s_min_due", "s_due", "s_currency")},
    "outcome": EVENT_SCHEMA["outcome"],
    "p_kind": POSTING_SCHEMA["kind"],
    "p_component": POSTING_SCHEMA["component"],
    "p_amount": POSTING_SCHEMA["amount_minor"],
    "p_currency": POSTING_SCHEMA["currency"],
    "p_reference": POSTING_SCHEMA["reference"],
    "p_detail": POSTING_SCHEMA["detail"],
}

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
MICROSECOND = dt.timedelta(microseconds=1)
PRINCIPAL = Component.PRINCIPAL.value
_NO_STATEMENT = (None, None, None, None, None)
_PURCHASE, _CASH, _PAYMENT = Kind.PURCHASE.value, Kind.CASH_ADVANCE.value, Kind.PAYMENT.value
_REFUND, _REVERSAL = Kind.REFUND.value, Kind.REVERSAL.value
_STATEMENT, _CONTACT = Kind.STATEMENT_ISSUED.value, Kind.CONTACT.value

Row = tuple[Any, ...]


def _purchase(e: Any) -> Row:
    a = e.amount_minor
    return (MONEY, a, 0, a, False, False, *_NO_STATEMENT, None, _PURCHASE, PRINCIPAL, a,
            e.currency, None, None)  # fmt: skip


def _cash_advance(e: Any) -> Row:
    a = e.amount_minor
    return (MONEY, a, 0, a, False, True, *_NO_STATEMENT, None, _CASH, PRINCIPAL, a,
            e.currency, None, None)  # fmt: skip


def _payment(e: Any) -> Row:
    a = e.amount_minor
    return (MONEY, -a, a, 0, True, False, *_NO_STATEMENT, None, _PAYMENT, PRINCIPAL, -a,
            e.currency, None, None)  # fmt: skip


def _refund(e: Any) -> Row:
    a = e.amount_minor
    ref = KEY_PREFIX + e.refunds_event_id if e.refunds_event_id else None
    return (MONEY, -a, 0, -a, False, False, *_NO_STATEMENT, None, _REFUND, PRINCIPAL, -a,
            e.currency, ref, None)  # fmt: skip


def _reversal(e: Any) -> Row:
    a, was = e.amount_minor, e.reversed_type
    ref = KEY_PREFIX + e.reverses_event_id
    detail = f'{{"reversed_type":"{was}"}}'  # a literal of four names: nothing to escape
    if was in CHARGES:
        return (MONEY, -a, 0, -a, False, False, *_NO_STATEMENT, None, _REVERSAL, PRINCIPAL,
                -a, e.currency, ref, detail)  # fmt: skip
    paid = -a if was == "payment" else 0
    return (MONEY, a, paid, 0, False, False, *_NO_STATEMENT, None, _REVERSAL, PRINCIPAL, a,
            e.currency, ref, detail)  # fmt: skip


def _statement(e: Any) -> Row:
    # ``postings._detail``'s JSON (keys sorted, no spaces), written out: integers and ISO days.
    limit, minimum, balance = e.credit_limit_minor, e.minimum_due_minor, e.statement_balance_minor
    detail = (
        f'{{"credit_limit_minor":{limit},"cycle_date":"{e.cycle_date.isoformat()}",'
        f'"due_date":"{e.due_date.isoformat()}","minimum_due_minor":{minimum}}}'
    )
    return (STATEMENT, 0, 0, 0, False, False, balance, limit, minimum, e.due_date, e.currency,
            None, _STATEMENT, None, balance, e.currency, None, detail)  # fmt: skip


def _contact(e: Any) -> Row:
    promised, on = e.promised_amount_minor, e.promised_on
    detail = (
        f'{{"channel":"{e.channel}","outcome":"{e.outcome}","promised_amount_minor":'
        f'{"null" if promised is None else promised},"promised_on":'
        f"{'null' if on is None else chr(34) + on.isoformat() + chr(34)}}}"
    )
    return (CONTACT, 0, 0, 0, False, False, *_NO_STATEMENT, e.outcome, _CONTACT, None, None,
            None, None, detail)  # fmt: skip


def _any(e: Event) -> Row:
    """Any event, from the per-event definitions."""
    f = posting_fields(e)
    currency = getattr(e, "currency", None) if f.amount_minor is not None else None
    posting = (
        f.kind.value,
        PRINCIPAL if f.money else None,
        f.amount_minor,
        currency,
        f.reference,
        f.detail,
    )
    kind = e.type
    if isinstance(e, StatementIssued):
        stated = (
            e.statement_balance_minor,
            e.credit_limit_minor,
            e.minimum_due_minor,
            e.due_date,
            e.currency,
        )
        return (STATEMENT, 0, 0, 0, False, False, *stated, None, *posting)
    if isinstance(e, ContactOutcome):
        return (CONTACT, 0, 0, 0, False, False, *_NO_STATEMENT, e.outcome, *posting)
    bal, paid, spend = money_effect(e)
    flags = (kind == "payment", kind == "cash_advance")
    return (MONEY, bal, paid, spend, *flags, *_NO_STATEMENT, None, *posting)


_BY_TYPE: dict[type, Callable[[Any], Row]] = {
    Purchase: _purchase,
    CashAdvance: _cash_advance,
    Payment: _payment,
    Refund: _refund,
    Reversal: _reversal,
    StatementIssued: _statement,
    ContactOutcome: _contact,
}


def event_columns(
    events: Sequence[Event], at: Sequence[int] | None, zone: str
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The ``EVENT_SCHEMA`` frame and the postings (``POSTING_SCHEMA``, one each, in order)
    of ``events``; ``at`` is when each happened, microseconds since the epoch (``EPOCH``;
    worked out here when None: a column of aware datetimes costs Polars more), ``zone``
    the issuer's, whose day is the posting's business day."""
    if at is None:
        at = [(e.occurred_at - EPOCH) // MICROSECOND for e in events]
    by_type = _BY_TYPE
    rows = [by_type.get(type(e), _any)(e) for e in events]
    taken = list(zip(*rows, strict=True)) if rows else [() for _ in _TAKEN]
    cols: dict[str, Any] = dict(zip(_TAKEN, taken, strict=True))
    cols["pos"] = range(len(events))
    cols["account_id"] = [e.account_id for e in events]
    cols["sequence"] = [e.sequence for e in events]
    cols["at"] = at
    cols["event_id"] = [e.event_id for e in events]
    schema = {**EVENT_SCHEMA, "at": pl.Int64(), **_TAKEN, "event_id": pl.String()}
    whole = pl.DataFrame({c: cols[c] for c in schema}, schema=schema)
    whole = whole.with_columns(pl.col("at").cast(UTC_US))
    frame = whole.select(list(EVENT_SCHEMA))
    when = pl.col("at")
    postings = whole.select(
        pl.col("account_id"),
        pl.col("p_kind").alias("kind"),
        pl.col("p_component").alias("component"),
        pl.col("p_amount").alias("amount_minor"),
        pl.col("p_currency").alias("currency"),
        when.alias("effective_at"),
        when.dt.convert_time_zone(zone).dt.date().alias("effective_on"),
        pl.lit(Source.EVENT.value, pl.Utf8()).alias("source"),
        (pl.lit(KEY_PREFIX) + pl.col("event_id")).alias("idempotency_key"),
        pl.col("p_reference").alias("reference"),
        pl.lit(None, pl.Utf8()).alias("basis"),
        pl.col("p_detail").alias("detail"),
    )
    return frame, postings
