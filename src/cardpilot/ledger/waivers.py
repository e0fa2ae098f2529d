"""Waiving a fee: never more than what is left of it, whoever asks (treatment or plan).

A fee may be waived by the overdue treatment or by a repayment plan; both ask through
:func:`waive`, which caps each waiver at what the fee still has unwaived, so two sources
together can never waive more than was charged.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from cardpilot.ledger.postings import WAIVABLE, Component, Kind, Posting, Source

_WAIVER_KINDS = [Kind.FEE_WAIVER.value, Kind.FEE_REINSTATEMENT.value, Kind.REVERSAL.value]


def unwaived(postings: pl.DataFrame, fee_key: str) -> int:
    """What of the charge ``fee_key`` is neither waived nor reversed (0: no such charge)."""
    fee = postings.filter(
        (pl.col("idempotency_key") == fee_key) & pl.col("kind").is_in([k.value for k in WAIVABLE])
    )
    if fee.height == 0:
        return 0
    adjustments = postings.filter(
        (pl.col("reference") == fee_key) & pl.col("kind").is_in(_WAIVER_KINDS)
    )["amount_minor"].sum()
    return max(int(fee["amount_minor"][0]) + int(adjustments or 0), 0)


def waive(
    postings: pl.DataFrame,
    fee_key: str,
    requested_minor: int,
    *,
    key: str,
    effective_at: dt.datetime,
    source: Source,
) -> Posting | None:
    """A waiver of at most ``requested_minor`` of ``fee_key``: None when nothing is left."""
    fee = postings.filter(pl.col("idempotency_key") == fee_key)
    amount = min(requested_minor, unwaived(postings, fee_key))
    if amount <= 0 or fee.height == 0:
        return None
    row = fee.row(0, named=True)
    return Posting(
        account_id=row["account_id"],
        kind=Kind.FEE_WAIVER,
        effective_at=effective_at,
        source=source,
        idempotency_key=key,
        amount_minor=-amount,
        currency=row["currency"],
        component=Component(row["component"]),
        reference=fee_key,
    )
