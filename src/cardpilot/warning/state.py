"""The trigger input of a chunk of accounts, as the batch builds it. Pure.

``batch_states`` joins what the batch knows of each account into the rows
``cardpilot.warning.triggers`` reads (``STATE_SCHEMA``): the statement figures (latest cycle,
due date, minimum due and what is unpaid of it, days past due), the early-warning features
(utilisation, spending against the six-month average, months on book), the model's score and
reasons, the score of the previous run, and the dates of limit increases and cash advances.
The event consumer builds its rows from its running features (``AccountFeatures.trigger_row``,
one per event) and adds what the store knows with ``with_store_facts``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

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


def _day_gap(later: dt.date | None, earlier: dt.date | None) -> int | None:
    return None if later is None or earlier is None else (later - earlier).days


def with_store_facts(
    rows: Sequence[Mapping[str, Any]], stored: Mapping[str, Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """The event consumer's trigger rows (``AccountFeatures.trigger_row``, one per applied
    event) with what the store knows of each account (``stored``: customer, currency, status,
    the latest early-warning score of a batch run with its change and reasons,
    ``increased_on``) and the days past due the row implies (the days since the due date
    while the minimum is unpaid). Rows of accounts that get no messages, or without a day,
    are left out. The cash advance after an increase is the latest one the row knows."""
    out = []
    for row in rows:
        facts = stored.get(row["account_id"])
        as_of = row.get("as_of")
        if facts is None or facts.get("status") not in ONLINE_STATUSES or as_of is None:
            continue
        increased = facts.get("increased_on")
        if increased is not None and increased > as_of:
            increased = None
        cash_days = row.get("days_since_cash_advance")
        cash_on = None if cash_days is None else as_of - dt.timedelta(days=cash_days)
        after = _day_gap(cash_on, increased)
        late = _day_gap(as_of, row.get("due_date"))
        unpaid = row.get("unpaid_minimum_minor") or 0
        out.append(
            {
                **row,
                "customer_id": facts.get("customer_id"),
                "currency": row.get("currency") or facts.get("currency"),
                "days_past_due": late if late is not None and late > 0 and unpaid > 0 else 0,
                "score": facts.get("score"),
                "score_change": facts.get("score_change"),
                "reason_codes": facts.get("reason_codes"),
                "model_version": facts.get("model_version"),
                "days_since_limit_increase": _day_gap(as_of, increased),
                "cash_advance_days_after_increase": after if after is None or after >= 0 else None,
            }
        )
    return out
