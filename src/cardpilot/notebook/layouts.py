"""A data frame in a notebook → the portfolio frames the feature plan reads.

Two layouts, told apart by their columns: the UCI layout (one row per account: ``ID``,
``X1`` … ``X23``, optionally ``Y``, or the published names ``LIMIT_BAL``, ``PAY_0``, …), and the
generic layout's statements table (one row per account and cycle: ``account_id``,
``cycle_date``, ``statement_balance``, ``amount_paid``, … in major units, as in
``docs/data-formats.md``). Every value goes through the import's own field checks, so a
notebook and ``cardpilot import`` accept and refuse the same values.
"""

from __future__ import annotations

import datetime as dt
import sys
from dataclasses import dataclass
from typing import Any, Literal

import polars as pl

from cardpilot.domain.portfolio import ACCOUNT_SCHEMA, CUSTOMER_SCHEMA, STATEMENT_SCHEMA
from cardpilot.ingest import uci
from cardpilot.ingest.fields import ROW, FieldSpec, validate
from cardpilot.ingest.generic_specs import MONEY_TO_MINOR
from cardpilot.ingest.generic_specs import SPECS as GENERIC_SPECS

Layout = Literal["uci", "generic"]
SOURCE = "<data frame>"
SHOWN_PROBLEMS = 5


class LayoutError(ValueError):
    """A frame in neither layout, or with values the import would reject."""


@dataclass(frozen=True)
class NotebookFrames:
    """The frames of one input, and each input row's account id in input order."""

    customers: pl.DataFrame
    accounts: pl.DataFrame
    statements: pl.DataFrame
    labels: pl.DataFrame | None
    layout: Layout
    row_accounts: pl.Series  # the account id of every input row, in input order


def to_polars(data: Any) -> tuple[pl.DataFrame, Any]:
    """A polars frame of ``data`` (polars or pandas) and the pandas index to restore, if any."""
    if isinstance(data, pl.DataFrame):
        return data, None
    if isinstance(data, pl.LazyFrame):
        return data.collect(), None
    # A pandas frame can only come from a loaded pandas; cardpilot does not require it.
    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(data, pandas.DataFrame):
        return pl.from_pandas(data.reset_index(drop=True)), data.index
    raise TypeError(f"expected a polars or pandas DataFrame, got {type(data).__name__}")


def detect_layout(frame: pl.DataFrame) -> Layout:
    names = {c.strip().lower() for c in frame.columns}
    if {"account_id", "cycle_date"} <= names:
        return "generic"
    if "id" in names and ({"x1", "limit_bal"} & names):
        return "uci"
    raise LayoutError(
        "cannot tell the layout: expected the UCI columns (ID, X1 … X23 or LIMIT_BAL, PAY_0, …) "
        "or a generic statements table (account_id, cycle_date, statement_balance, amount_paid, …)"
    )


def _checked(frame: pl.DataFrame, specs: list[FieldSpec]) -> pl.DataFrame:
    """The frame's rows through the import's checks; the first problems raised as one error."""
    raw = frame.with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64))
    checked = validate(raw, specs, file=SOURCE)
    if checked.rejects.height:
        shown = [
            f"row {r['row']}, {r['field']}: {r['reason']}"
            for r in checked.rejects.head(SHOWN_PROBLEMS).iter_rows(named=True)
        ]
        more = checked.rejects.height - len(shown)
        tail = f" (and {more} more)" if more > 0 else ""
        raise LayoutError("rejected values: " + "; ".join(shown) + tail)
    return checked.good


def uci_frames(frame: pl.DataFrame) -> NotebookFrames:
    renamed = frame.rename({c: uci.canonical_name(c) or c for c in frame.columns})
    has_label = "Y" in renamed.columns
    specs = [s for s in uci.SPECS if has_label or s.name != "Y"]
    good = _checked(renamed, specs)
    return NotebookFrames(
        customers=uci.customers_from_rows(good),
        accounts=uci.accounts_from_rows(good),
        statements=uci.statements_from_rows(good),
        labels=uci.labels_from_rows(good) if has_label else None,
        layout="uci",
        row_accounts=good.get_column("ID"),
    )


def _dates_from_midnights(frame: pl.DataFrame) -> pl.DataFrame:
    """pandas holds dates as midnight timestamps; those columns are read back as dates."""
    midnight = [
        name
        for name, dtype in frame.schema.items()
        if isinstance(dtype, pl.Datetime)
        and frame.select((pl.col(name).dt.time() == dt.time(0)).all()).item() is not False
    ]
    return frame.with_columns(pl.col(name).dt.date() for name in midnight)


def generic_frames(frame: pl.DataFrame) -> NotebookFrames:
    specs = GENERIC_SPECS["statements"]
    frame = _dates_from_midnights(frame)
    good = _checked(frame, specs).sort(ROW)
    statements = (
        good.drop(ROW)
        .rename({k: v for k, v in MONEY_TO_MINOR.items() if k in good.columns})
        .select(list(STATEMENT_SCHEMA))
        .cast(STATEMENT_SCHEMA)  # type: ignore[arg-type]
        .sort("account_id", "cycle_date", maintain_order=True)
    )
    # The statements alone: each account's limit is its latest statement's, and its customer
    # is unknown (no customer column reaches a feature but birth year, education and income).
    accounts = (
        statements.group_by("account_id", maintain_order=True)
        .agg(pl.col("credit_limit_minor").last())
        .select(
            "account_id",
            pl.col("account_id").alias("customer_id"),
            "credit_limit_minor",
            pl.lit(None, dtype=pl.Date).alias("open_date"),
            pl.lit("active").alias("status"),
            pl.lit(None, dtype=pl.Utf8).alias("currency"),
        )
        .cast(ACCOUNT_SCHEMA)  # type: ignore[arg-type]
    )
    customers = accounts.select(pl.col("customer_id")).with_columns(
        pl.lit(None).cast(dtype).alias(name)
        for name, dtype in CUSTOMER_SCHEMA.items()
        if name != "customer_id"
    )
    return NotebookFrames(
        customers=customers.select(list(CUSTOMER_SCHEMA)),
        accounts=accounts,
        statements=statements,
        labels=None,
        layout="generic",
        row_accounts=good.get_column("account_id"),
    )


def notebook_frames(frame: pl.DataFrame) -> NotebookFrames:
    if detect_layout(frame) == "uci":
        return uci_frames(frame)
    return generic_frames(frame)


def latest_cycle(frames: NotebookFrames) -> dt.date:
    latest = frames.statements.get_column("cycle_date").max()
    if not isinstance(latest, dt.date):
        raise LayoutError("no statements to compute features from")
    return latest
