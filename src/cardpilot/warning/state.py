"""The trigger input of a chunk of accounts, as the batch builds it. Pure.

``batch_states`` joins what the batch knows of each account into the rows
``cardpilot.warning.triggers`` reads (``STATE_SCHEMA``): the statement figures (latest cycle,
due date, minimum due and what is unpaid of it, days past due), the early-warning features
(utilisation, spending against the six-month average, months on book), the model's score and
reasons, the score of the previous run, and the dates of limit increases and cash advances.
The event consumer builds its rows from its running features (``AccountFeatures.trigger_row``,
one per event, as one frame) and adds what the store knows with ``with_store_facts``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import polars as pl
import pyarrow as pa

from cardpilot.warning.triggers import STATE_SCHEMA

DUE_COLUMNS = (
    "account_id",
    "customer_id",
    "currency",
    "cycle_date",
    "due_date",
    "statement_balance_minor",
    "minimum_due_minor",
    "unpaid_minimum_minor",
    "days_past_due",
)


def _days(later: pl.Expr, earlier: pl.Expr) -> pl.Expr:
    return (later - earlier).dt.total_days().cast(pl.Int32)


def event_dates(
    increases: pl.DataFrame, cash_advances: pl.DataFrame, as_of: dt.date
) -> pl.DataFrame:
    """Per account: days since its latest limit increase, days from that increase to the
    first cash advance after it, days since its latest cash advance (each null when none).

    ``increases``: ``account_id, increased_on``; ``cash_advances``: ``account_id,
    advanced_on``; only dates on or before ``as_of`` count."""
    latest = (
        increases.filter(pl.col("increased_on") <= as_of)
        .group_by("account_id")
        .agg(pl.col("increased_on").max())
    )
    advances = cash_advances.filter(pl.col("advanced_on") <= as_of)
    last_advance = advances.group_by("account_id").agg(pl.col("advanced_on").max().alias("_last"))
    after = (
        advances.join(latest, on="account_id")
        .filter(pl.col("advanced_on") >= pl.col("increased_on"))
        .group_by("account_id")
        .agg(pl.col("advanced_on").min().alias("_first_after"))
    )
    return (
        latest.join(last_advance, on="account_id", how="full", coalesce=True)
        .join(after, on="account_id", how="left")
        .select(
            "account_id",
            _days(pl.lit(as_of), pl.col("increased_on")).alias("days_since_limit_increase"),
            _days(pl.col("_first_after"), pl.col("increased_on")).alias(
                "cash_advance_days_after_increase"
            ),
            _days(pl.lit(as_of), pl.col("_last")).alias("days_since_cash_advance"),
        )
    )


def batch_states(
    due: pl.DataFrame,
    features: pl.DataFrame,
    scores: pl.DataFrame,
    previous: pl.DataFrame,
    events: pl.DataFrame,
) -> pl.DataFrame:
    """``STATE_SCHEMA`` rows, one per account of ``due``.

    ``due``: ``DUE_COLUMNS`` (``overdue.reminders.reminder_input`` rows); ``features``:
    ``warning_features`` rows (``utilisation_latest``, ``spend_spike``, ``months_on_book``);
    ``scores``: ``account_id, pd, reason_codes, model_version``; ``previous``:
    ``account_id, previous_score``; ``events``: ``event_dates`` rows."""
    feats = features.select(
        "account_id",
        pl.col("utilisation_latest").alias("utilisation"),
        pl.col("spend_spike").alias("spend_to_6m_average"),
        "months_on_book",
    )
    table = (
        due.select(DUE_COLUMNS)
        .join(feats, on="account_id", how="left")
        .join(
            scores.select(
                "account_id", pl.col("pd").alias("score"), "reason_codes", "model_version"
            ),
            on="account_id",
            how="left",
        )
        .join(previous, on="account_id", how="left")
        .join(events, on="account_id", how="left")
        .with_columns((pl.col("score") - pl.col("previous_score")).alias("score_change"))
    )
    return table.select(
        (pl.col(c) if c in table.columns else pl.lit(None)).cast(t).alias(c)
        for c, t in STATE_SCHEMA.items()
    )


ONLINE_STATUSES = ("active", "frozen")  # closed and charged-off accounts get no messages


FACTS_SCHEMA: dict[str, pl.DataType] = {
    "account_id": pl.String(),
    "customer_id": pl.String(),
    "facts_currency": pl.String(),
    "status": pl.String(),
    "score": pl.Float64(),
    "score_change": pl.Float64(),
    "reason_codes": pl.List(pl.String()),
    "model_version": pl.String(),
    "increased_on": pl.Date(),
}


def facts_frame(stored: Mapping[str, Mapping[str, Any]]) -> pl.DataFrame:
    """``stored`` (``store.warning_interventions.online_inputs``: per account, its customer,
    currency, status, score, score change, reasons, model version and ``increased_on``) as
    one row per account, ``FACTS_SCHEMA``."""
    keys = {c: c for c in FACTS_SCHEMA} | {"facts_currency": "currency"}
    facts = list(stored.values())
    columns: dict[str, Any] = {
        c: [f.get(k) for f in facts] for c, k in keys.items() if c != "account_id"
    }
    columns["reason_codes"] = _string_lists(columns["reason_codes"])
    return pl.DataFrame({"account_id": list(stored), **columns}, schema=FACTS_SCHEMA)


def _string_lists(values: list[list[str] | None]) -> pl.Series:
    """``values`` as one list-of-strings column, built from flat offsets: Polars builds a
    Series per row from nested Python lists, which costs more than the rest of the frame."""
    offsets = [0]
    flat: list[str] = []
    for v in values:
        if v:
            flat.extend(v)
        offsets.append(len(flat))
    # The parts are built by Polars: ``pa.array`` on Python lists first looks for pandas
    # (importing it, a third of a second, in a process that has no other use for it).
    lists = pa.ListArray.from_arrays(
        pl.Series(offsets, dtype=pl.Int32()).to_arrow(),
        pl.Series(flat, dtype=pl.String()).to_arrow(),
        mask=pl.Series([v is None for v in values], dtype=pl.Boolean()).to_arrow(),
    )
    return pl.Series("reason_codes", lists, dtype=pl.List(pl.String()))


def _days_between(later: pl.Expr, earlier: pl.Expr) -> pl.Expr:
    return (later - earlier).dt.total_days().cast(pl.Int32)


def with_store_facts(rows: pl.DataFrame, facts: pl.DataFrame) -> pl.DataFrame:
    """The event consumer's trigger rows (``AccountFeatures.trigger_row``, one per applied
    event, in order) with what the store knows of each account (``facts``, ``facts_frame``:
    customer, currency, status, the latest early-warning score of a batch run with its change
    and reasons, ``increased_on``) and the days past due the row implies (the days since the
    due date while the minimum is unpaid). Rows of accounts that get no messages, or without a
    day, are left out; the order is kept. The cash advance after an increase is the latest one
    the row knows."""
    joined = rows.join(facts, on="account_id", how="inner", maintain_order="left")
    return _store_derived(joined.lazy()).collect()


def without_store_facts(rows: pl.LazyFrame) -> pl.LazyFrame:
    """``rows`` as ``with_store_facts`` gives them for accounts the store knows only as open:
    no customer, currency, score or limit increase of its own."""
    return _store_derived(rows.with_columns(_BARE))


def _bare() -> list[pl.Expr]:
    return [
        (pl.lit(ONLINE_STATUSES[0]) if c == "status" else pl.lit(None)).cast(t).alias(c)
        for c, t in FACTS_SCHEMA.items()
        if c != "account_id"
    ]


def _derived() -> tuple[pl.Expr, list[pl.Expr]]:
    as_of = pl.col("as_of")
    increased = pl.when(pl.col("increased_on") <= as_of).then(pl.col("increased_on"))
    cash_on = as_of - pl.duration(days=pl.col("days_since_cash_advance"))
    after = _days_between(cash_on, increased)
    late = _days_between(as_of, pl.col("due_date"))
    unpaid = pl.col("unpaid_minimum_minor").fill_null(0)
    kept = pl.col("status").is_in(ONLINE_STATUSES) & as_of.is_not_null()
    return kept, [
        pl.coalesce(pl.col("currency"), pl.col("facts_currency")).alias("currency"),
        pl.when((late > 0) & (unpaid > 0)).then(late).otherwise(0).alias("days_past_due"),
        _days_between(as_of, increased).alias("days_since_limit_increase"),
        pl.when(after >= 0).then(after).alias("cash_advance_days_after_increase"),
    ]


# Built once: building the expressions costs about as much as running them on a batch.
_BARE = _bare()
_KEPT, _DERIVED = _derived()


def _store_derived(joined: pl.LazyFrame) -> pl.LazyFrame:
    return (
        joined.filter(_KEPT).with_columns(_DERIVED).drop("facts_currency", "status", "increased_on")
    )
