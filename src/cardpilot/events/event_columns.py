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
from cardpilot.events.postings import KEY_PREFIX, posting_fields
from cardpilot.events.schema import (
    CashAdvance,
    ContactOutcome,
    Event,
    Payment,
    Purchase,
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

PRINCIPAL = Component.PRINCIPAL.value
_NO_STATEMENT = (None, None, None, None, None)
_PURCHASE, _CASH, _PAYMENT = Kind.PURCHASE.value, Kind.CASH_ADVANCE.value, Kind.PAYMENT.value

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
}


def event_columns(
    events: Sequence[Event], at: Sequence[dt.datetime] | None, zone: str
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The ``EVENT_SCHEMA`` frame and the postings (``POSTING_SCHEMA``, one each, in order)
    of ``events``; ``at`` is when each happened in UTC (worked out here when None), ``zone``
    the issuer's, whose day is the posting's business day."""
    if at is None:
        at = [e.occurred_at.astimezone(dt.UTC) for e in events]
    by_type = _BY_TYPE
    rows = [by_type.get(type(e), _any)(e) for e in events]
    taken = list(zip(*rows, strict=True)) if rows else [() for _ in _TAKEN]
    cols: dict[str, Any] = dict(zip(_TAKEN, taken, strict=True))
    cols["pos"] = range(len(events))
    cols["account_id"] = [e.account_id for e in events]
    cols["sequence"] = [e.sequence for e in events]
    cols["at"] = at
    cols["event_id"] = [e.event_id for e in events]
    schema = {**EVENT_SCHEMA, **_TAKEN, "event_id": pl.String()}
    whole = pl.DataFrame({c: cols[c] for c in schema}, schema=schema)
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
