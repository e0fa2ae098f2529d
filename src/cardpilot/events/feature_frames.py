"""The accounts' running features as one frame: a row per account (``STATE_SCHEMA``).

The consumer folds a batch column-wise (``events.batch_features``) and keeps, writes and reads
the states as this frame; ``AccountFeatures`` (``events.features``) is the same state as an
object, for the per-event fold it is proven equal to and for whoever reads one account.
Months are numbered (``year * 12 + month - 1``) so they sort and subtract as integers; times
are UTC.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import polars as pl

from cardpilot.domain.money import BP
from cardpilot.events.features import AccountFeatures, Recent

UTC_US = pl.Datetime("us", "UTC")
ACC = "account_id"
# What an event does to the features: moves money, issues a statement, records a contact.
MONEY, STATEMENT, CONTACT = 0, 1, 2
RECENT = pl.Struct({"at": UTC_US, "balance": pl.Int64(), "paid": pl.Int64(), "cash": pl.Boolean()})
SPEND = pl.Struct({"month": pl.Int32(), "amount": pl.Int64()})

STATE_SCHEMA: dict[str, pl.DataType] = {
    "account_id": pl.String(),
    "last_sequence": pl.Int64(),
    "last_occurred_at": UTC_US,
    "events_applied": pl.Int64(),
    "currency": pl.String(),
    "statement_at": UTC_US,
    "statement_balance_minor": pl.Int64(),
    "credit_limit_minor": pl.Int64(),
    "minimum_due_minor": pl.Int64(),
    "due_date": pl.Date(),
    "balance_since_statement_minor": pl.Int64(),
    "paid_since_statement_minor": pl.Int64(),
    "minimum_paid_on": pl.Date(),
    "last_payment_on": pl.Date(),
    "utilisation_at_statement_bp": pl.Int64(),
    "spend_by_month": pl.List(SPEND),
    "first_month": pl.Int32(),
    "last_cash_advance_on": pl.Date(),
    "cash_advances_this_cycle": pl.Int64(),
    "last_contact_outcome": pl.String(),
    "last_contact_at": UTC_US,
    "recent": pl.List(RECENT),
}


def month_index(month: str) -> int:
    year, mon = month.split("-")
    return int(year) * 12 + int(mon) - 1


def month_text(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    return None if value is None else value.replace(tzinfo=dt.UTC)


def state_rows(states: Iterable[AccountFeatures]) -> list[dict[str, Any]]:
    rows = []
    for s in states:
        row = {c: getattr(s, c) for c in STATE_SCHEMA}
        row["spend_by_month"] = [
            {"month": month_index(m), "amount": v} for m, v in s.spend_by_month
        ]
        row["first_month"] = None if s.first_month is None else month_index(s.first_month)
        row["recent"] = [
            {"at": r.at, "balance": r.balance_minor, "paid": r.paid_minor, "cash": r.cash_advance}
            for r in s.recent
        ]
        rows.append(row)
    return rows


def states_frame(states: Iterable[AccountFeatures]) -> pl.DataFrame:
    """``states`` as a ``STATE_SCHEMA`` frame, one row each."""
    return pl.DataFrame(state_rows(states), schema=STATE_SCHEMA)


def state_of(row: dict[str, Any]) -> AccountFeatures:
    """One ``STATE_SCHEMA`` row (as ``iter_rows(named=True)`` gives it) as an object."""
    values = dict(row)
    for c in ("last_occurred_at", "statement_at", "last_contact_at"):
        values[c] = _utc(values[c])
    values["spend_by_month"] = tuple(
        (month_text(b["month"]), b["amount"]) for b in values["spend_by_month"] or ()
    )
    first = values["first_month"]
    values["first_month"] = None if first is None else month_text(first)
    values["recent"] = tuple(
        Recent(_utc(r["at"]), r["balance"], r["paid"], r["cash"])  # type: ignore[arg-type]
        for r in values["recent"] or ()
    )
    return AccountFeatures(**values)


def states_of(frame: pl.DataFrame) -> dict[str, AccountFeatures]:
    """The states of a ``STATE_SCHEMA`` frame by account."""
    return {r["account_id"]: state_of(r) for r in frame.iter_rows(named=True)}


def derived_columns(states: pl.DataFrame, months: int) -> pl.DataFrame:
    """What ``AccountFeatures.derived`` works out, for each state of the frame:
    ``utilisation_bp``, ``spend_ratio_bp`` (``months`` before) and ``payment_days_before_due``."""
    limit = pl.col("credit_limit_minor")
    balance = pl.col("statement_balance_minor") + pl.col("balance_since_statement_minor")
    month, cur = pl.col("month"), pl.col("cur")
    spending = (
        states.select("account_id", "first_month", "spend_by_month")
        .explode("spend_by_month")
        .drop_nulls("spend_by_month")
        .unnest("spend_by_month")
        .with_columns(cur=month.max().over("account_id"))
        .with_columns(
            hist=pl.min_horizontal(pl.lit(months), cur - pl.col("first_month")).cast(pl.Int64)
        )
        .group_by("account_id")
        .agg(
            pl.col("amount").filter(month == cur).sum().alias("spent"),
            pl.col("amount")
            .filter((month >= cur - pl.col("hist")) & (month < cur))
            .sum()
            .alias("total"),
            pl.col("hist").first(),
        )
    )
    usable = (pl.col("hist") > 0) & (pl.col("total") > 0)
    return states.join(spending, on="account_id", how="left", maintain_order="left").select(
        "account_id",
        pl.when(limit.is_not_null() & (limit != 0))
        .then(balance * BP // limit)
        .alias("utilisation_bp"),
        pl.when(usable & pl.col("first_month").is_not_null())
        .then(pl.col("spent") * BP * pl.col("hist") // pl.col("total"))
        .alias("spend_ratio_bp"),
        (pl.col("due_date") - pl.col("minimum_paid_on"))
        .dt.total_days()
        .alias("payment_days_before_due"),
    )
