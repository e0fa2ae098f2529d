"""Balances: sums of postings by component, as of any business day.

A balance is never stored: it is the sum of the account's money postings (charges, credits and
signed kinds; memos and events aside) whose business day is on or before the day asked for.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

import polars as pl

from cardpilot.ledger.postings import Component, Role, kinds_with

MONEY_KINDS = kinds_with(Role.CHARGE, Role.CREDIT, Role.SIGNED)
COMPONENTS = [c.value for c in Component]
BALANCE_SCHEMA: dict[str, pl.DataType] = {
    "account_id": pl.Utf8(),
    **{c: pl.Int64() for c in COMPONENTS},
    "total": pl.Int64(),
}


def money_postings(postings: pl.DataFrame, as_of: dt.date | None = None) -> pl.DataFrame:
    """The postings that move a balance, on or before ``as_of`` (every day when None)."""
    keep = pl.col("kind").is_in(MONEY_KINDS)
    if as_of is not None:
        keep = keep & (pl.col("effective_on") <= as_of)
    return postings.filter(keep)


def balances(postings: pl.DataFrame, as_of: dt.date | None = None) -> pl.DataFrame:
    """One row per account with a money posting: principal, interest, fees and total.

    ``postings``: frames of ``POSTING_SCHEMA``. Exact integer sums; an account's components add
    up to its total.
    """
    money = money_postings(postings, as_of)
    if money.height == 0:
        return pl.DataFrame(schema=BALANCE_SCHEMA)
    wide = money.group_by("account_id").agg(
        *(
            pl.col("amount_minor").filter(pl.col("component") == c).sum().alias(c)
            for c in COMPONENTS
        )
    )
    return (
        wide.with_columns(pl.sum_horizontal(COMPONENTS).alias("total"))
        .cast(BALANCE_SCHEMA)  # type: ignore[arg-type]
        .sort("account_id")
    )


def balance_of(
    postings: pl.DataFrame, account_id: str, as_of: dt.date | None = None
) -> dict[str, int]:
    """One account's balance by component (zeros when it has no money posting)."""
    rows = balances(postings.filter(pl.col("account_id") == account_id), as_of)
    if rows.height == 0:
        return {**dict.fromkeys(COMPONENTS, 0), "total": 0}
    row = rows.row(0, named=True)
    return {name: int(row[name]) for name in [*COMPONENTS, "total"]}


def balance_of_rows(postings: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """One account's balance by component from its postings as rows (``kind``, ``component``,
    ``amount_minor``), every row counted: the caller reads the rows of the day it asks for. The
    same sums as :func:`balance_of`, without a frame (one account's few dozen rows)."""
    out = dict.fromkeys(COMPONENTS, 0)
    money = frozenset(MONEY_KINDS)
    for posting in postings:
        component = posting["component"]
        if posting["kind"] in money and component in out:
            out[component] += int(posting["amount_minor"] or 0)
    return {**out, "total": sum(out.values())}
