"""Plausibility of the generic layout's dates and states: rules on well-formed values.

A value can be well formed and still impossible: a statement dated 2999, a due date before
its cycle date, 240 days past due on a statement whose status says no payment was due. Such a
row is rejected like a malformed one (file, row, field, reason), so it never reaches the store
and nothing computed from the store (the review's default date, an aging report) sees it.

Dates are judged against the **import date** (today in the configured time zone, or the date the
import is given). The ranges are in docs/data-formats.md, "Plausibility".
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from cardpilot.ingest.fields import ROW
from cardpilot.ingest.rejects import REJECT_SCHEMA

# How far back an account, statement, transaction or label may lie before the import date.
HISTORY_YEARS = 70
# Ages a customer may have at the import date (as the UCI layout's AGE: 16 to 120).
MIN_AGE, MAX_AGE = 16, 120
# A due date falls after its cycle date, by at most this many days.
MAX_GRACE_DAYS = 90
# How far ahead of the import date a temporary limit may expire, and a label be observed (a
# label says what happens in the month after the last statement: its date may lie ahead).
MAX_TEMP_LIMIT_YEARS = 10
MAX_LABEL_AHEAD_DAYS = 366
DAYS_PER_MONTH_OVERDUE = 30


@dataclass(frozen=True)
class Rule:
    """A row is implausible on ``field`` where ``broken`` holds (null counts as plausible)."""

    field: str
    broken: pl.Expr
    reason: str


def _years_later(day: dt.date, years: int) -> dt.date:
    """``day`` moved by ``years`` (negative: back); 29 February becomes the 28th."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def _date_window(field: str, earliest: dt.date, latest: dt.date, what: str) -> list[Rule]:
    column = pl.col(field)
    return [
        Rule(field, column < earliest, f"{what} before {earliest.isoformat()}"),
        Rule(field, column > latest, f"{what} after {latest.isoformat()}"),
    ]


def status_matches_days(status: pl.Expr, days: pl.Expr) -> pl.Expr:
    """Whether a repayment status (−2 … 9) agrees with the days past due.

    Codes −2, −1 and 0 mean nothing is overdue: 0 days. A code of 1 … 9 counts months of delay
    (9: nine and above), so it needs days in its 30-day band: the months ⌈days / 30⌉, or one
    more (issuers that call 1-29 days "1" and 30-59 days "2"), capped at 9.
    """
    months = (days + DAYS_PER_MONTH_OVERDUE - 1) // DAYS_PER_MONTH_OVERDUE
    return (
        pl.when(status.is_null() | days.is_null())
        .then(None)
        .when(status <= 0)
        .then(days == 0)
        .otherwise(
            (days > 0)
            & (
                (status == months.clip(upper_bound=9))
                | (status == (months + 1).clip(upper_bound=9))
            )
        )
    )


def rules(table: str, today: dt.date) -> list[Rule]:
    """The plausibility rules of one generic-layout table for an import on ``today``."""
    history = _years_later(today, -HISTORY_YEARS)
    if table == "customers":
        year = pl.col("birth_year")
        youngest, oldest = today.year - MIN_AGE, today.year - MAX_AGE
        return [
            Rule("birth_year", year > youngest, f"born after {youngest} (younger than {MIN_AGE})"),
            Rule("birth_year", year < oldest, f"born before {oldest} (older than {MAX_AGE})"),
        ]
    if table == "accounts":
        later = _years_later(today, MAX_TEMP_LIMIT_YEARS)
        return [
            *_date_window("open_date", history, today, "opened"),
            *_date_window("temp_limit_expires_on", history, later, "expires"),
        ]
    if table == "statements":
        cycle, due = pl.col("cycle_date"), pl.col("due_date")
        grace = (due - cycle).dt.total_days()
        status, days = pl.col("repayment_status"), pl.col("days_past_due")
        return [
            *_date_window("cycle_date", history, today, "cycle date"),
            Rule("due_date", grace <= 0, "due date not after the cycle date"),
            Rule(
                "due_date",
                grace > MAX_GRACE_DAYS,
                f"due more than {MAX_GRACE_DAYS} days after the cycle date",
            ),
            Rule(
                "repayment_status",
                ~status_matches_days(status, days),
                "repayment status does not match days_past_due",
            ),
        ]
    if table in ("transactions", "payments"):
        column = "posted_at" if table == "transactions" else "paid_at"
        posted = pl.col(column).dt.date()
        return [
            Rule(column, posted < history, f"posted before {history.isoformat()}"),
            Rule(
                column,
                posted > today + dt.timedelta(days=1),
                f"posted after {today.isoformat()}",
            ),
        ]
    if table == "labels":
        ahead = today + dt.timedelta(days=MAX_LABEL_AHEAD_DAYS)
        return _date_window("observed_on", history, ahead, "observed")
    return []


def reject_implausible(
    table: str, good: pl.DataFrame, *, file: str, today: dt.date
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split off the rows of ``good`` (typed, checked) that break a rule: (kept, rejects).

    A row breaking several rules is reported once, on the first of them.
    """
    found = [r for r in rules(table, today) if _has_columns(good, r)]
    if not found or good.height == 0:
        return good, pl.DataFrame(schema=REJECT_SCHEMA)
    if not good.select(pl.any_horizontal(r.broken.fill_null(False) for r in found).any()).item():
        return good, pl.DataFrame(schema=REJECT_SCHEMA)  # the usual case: one pass, no copy
    field = pl.lit(None, dtype=pl.Utf8)
    reason = pl.lit(None, dtype=pl.Utf8)
    value = pl.lit(None, dtype=pl.Utf8)
    for rule in reversed(found):
        hit = rule.broken.fill_null(False)
        field = pl.when(hit).then(pl.lit(rule.field)).otherwise(field)
        reason = pl.when(hit).then(pl.lit(rule.reason)).otherwise(reason)
        shown = pl.col(rule.field).cast(pl.Utf8).fill_null("")
        value = pl.when(hit).then(shown).otherwise(value)
    judged = good.with_columns(
        field.alias("__field"), reason.alias("__reason"), value.alias("__value")
    )
    broken = pl.col("__reason").is_not_null()
    rejects = judged.filter(broken).select(
        pl.lit(file).alias("file"),
        pl.col(ROW).alias("row"),
        pl.col("__field").alias("field"),
        pl.col("__value").alias("value"),
        pl.col("__reason").alias("reason"),
    )
    kept = judged.filter(~broken).drop("__field", "__reason", "__value")
    return kept, rejects.cast(REJECT_SCHEMA)  # type: ignore[arg-type]


def _has_columns(frame: pl.DataFrame, rule: Rule) -> bool:
    return all(name in frame.columns for name in rule.broken.meta.root_names())
