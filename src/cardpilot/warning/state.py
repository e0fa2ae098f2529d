"""The trigger input of a chunk of accounts, as the batch builds it. Pure.

``batch_states`` joins what the batch knows of each account into the rows
``cardpilot.warning.triggers`` reads (``STATE_SCHEMA``): the statement figures (latest cycle,
due date, minimum due and what is unpaid of it, days past due), the early-warning features
(utilisation, spending against the six-month average, months on book), the model's score and
reasons, the score of the previous run, and the dates of limit increases and cash advances.
The event consumer builds the same rows from its running features instead (``event_states``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl

from cardpilot.domain.money import BP
from cardpilot.events.features import AccountFeatures
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


SPEND_AVERAGE_MONTHS = 6  # the rules speak of the six-month average
ONLINE_STATUSES = ("active", "frozen")  # closed and charged-off accounts get no messages


def _opt_days(later: dt.date | None, earlier: dt.date | None) -> int | None:
    return None if later is None or earlier is None else (later - earlier).days


def event_state(
    features: AccountFeatures, stored: Mapping[str, Any], today: dt.date, zone: ZoneInfo
) -> dict[str, Any] | None:
    """One account's trigger state (``STATE_SCHEMA`` keys) from its running features after an
    event and what the store knows of it (``stored``: customer, currency, status, the latest
    early-warning score of a batch run, ``increased_on``); None for an account that gets no
    messages. The score is the latest run's: the consumer does not run the model per event.

    Days past due: the days since the due date while the minimum is unpaid. The cash advance
    after an increase is the latest one (online, the first one after an increase is the latest
    when it arrives)."""
    if stored.get("status") not in ONLINE_STATUSES:
        return None
    unpaid = max(features.minimum_due_minor - features.paid_since_statement_minor, 0)
    late = _opt_days(today, features.due_date)
    increased = stored.get("increased_on")
    advanced = features.last_cash_advance_on
    after = _opt_days(advanced, increased)
    spend = features.spend_ratio_bp(SPEND_AVERAGE_MONTHS)
    utilisation = features.utilisation_bp
    statement = features.statement_at
    return {
        "account_id": features.account_id,
        "customer_id": stored.get("customer_id"),
        "currency": features.currency or stored.get("currency"),
        "cycle_date": None if statement is None else statement.astimezone(zone).date(),
        "due_date": features.due_date,
        "days_past_due": late if late is not None and late > 0 and unpaid > 0 else 0,
        "score": stored.get("score"),
        "score_change": stored.get("score_change"),
        "statement_balance_minor": features.statement_balance_minor,
        "minimum_due_minor": features.minimum_due_minor,
        "unpaid_minimum_minor": unpaid,
        "utilisation": None if utilisation is None else utilisation / BP,
        "spend_to_6m_average": None if spend is None else spend / BP,
        "days_since_limit_increase": _opt_days(today, increased),
        "cash_advance_days_after_increase": after if after is not None and after >= 0 else None,
        "days_since_cash_advance": _opt_days(today, advanced),
        "months_on_book": None,
        "model_version": stored.get("model_version"),
        "reason_codes": stored.get("reason_codes"),
    }


def event_states(
    changed: Mapping[str, AccountFeatures],
    stored: Mapping[str, Mapping[str, Any]],
    today: dt.date,
    zone: ZoneInfo,
) -> pl.DataFrame:
    """``event_state`` of every changed account the store knows (``STATE_SCHEMA`` frame)."""
    rows = [
        state
        for account, features in changed.items()
        if (state := event_state(features, stored.get(account, {}), today, zone)) is not None
    ]
    return pl.DataFrame(rows, schema=STATE_SCHEMA) if rows else pl.DataFrame(schema=STATE_SCHEMA)
