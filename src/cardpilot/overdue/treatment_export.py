"""The export of a date's treatments (``cardpilot overdue treat --out``): one row per decision,
money in major units as exact decimals, written as formula-safe CSV or as Parquet."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from cardpilot.csv_safety import write_safe_csv

EXPORT_COLUMNS = (
    "account_id",
    "risk_segment",
    "bucket",
    "days_past_due",
    "treatment",
    "penalty_rate",
    "fee_waived",
    "fee_waiver_share",
    "penalty_interest",
    "late_fee",
    "fees_charged",
    "fee_waived_amount",
    "due_date_extension_days",
    "limit_action",
    "old_limit",
    "new_limit",
    "reason_codes",
    "reason_texts",
    "reason_texts_en",
    "pd",
    "score",
    "cures",
    "broken_promises",
    "overdue_balance",
    "first_contact_dpd",
    "contacts_per_week",
    "as_of",
    "policy_version",
    "model_version",
    "decision_id",
)
_LIST_COLUMNS = ("reason_codes", "reason_texts", "reason_texts_en")


class ExportError(ValueError):
    """An export that cannot be written as asked (an unknown file type)."""


def treatments_export_frame(treatments: pl.DataFrame) -> pl.DataFrame:
    """One row per decision (``store.overdue_treatments.read_treatments`` rows): money in major
    units as exact decimals, the daily penalty rate as exact decimal text (``0.0006`` = 0.06 %
    a day), reason texts zh-CN in ``reason_texts``."""
    major = pl.Decimal(18, 2)

    def money(name: str) -> pl.Expr:
        return (pl.col(name).cast(major) / 100).cast(major)

    return treatments.with_columns(
        pl.col("penalty_rate_daily")
        .str.replace(r"0+$", "")
        .str.replace(r"\.$", "")
        .alias("penalty_rate"),
        (pl.col("fee_waiver_share_bp").cast(pl.Float64) / 100).alias("fee_waiver_share"),
        money("old_limit_minor").alias("old_limit"),
        money("new_limit_minor").alias("new_limit"),
        money("overdue_balance_minor").alias("overdue_balance"),
        money("penalty_interest_minor").alias("penalty_interest"),
        money("late_fee_minor").alias("late_fee"),
        (money("penalty_interest_minor") + money("late_fee_minor"))
        .cast(major)
        .alias("fees_charged"),
        money("fee_waived_minor").alias("fee_waived_amount"),
        pl.col("reason_texts_zh").alias("reason_texts"),
    ).select(EXPORT_COLUMNS)


def write_treatments_export(frame: pl.DataFrame, path: Path) -> int:
    """Write an export frame to ``path`` (``.csv``: lists ``;``-joined, formula-safe; or
    ``.parquet``); returns the rows written."""
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise ExportError(f"--out {path}: use a .csv or .parquet file name")
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".parquet":
        frame.write_parquet(path)
    else:
        write_safe_csv(frame.with_columns(pl.col(c).list.join(";") for c in _LIST_COLUMNS), path)
    return frame.height
