"""The applications file: one row per credit application, as a bank knows it at application
time, with its outcome when known (for training).

Columns (generic layout, ``docs/data-formats.md``): ``application_id`` (optional: the data row
number otherwise), ``customer_id``, ``applied_on``, ``seniority_years``, ``home``,
``term_months``, ``age``, ``marital_status`` (protected: kept for the fairness measures only),
``adverse_records`` (yes/no), ``job``, ``monthly_expenses``, ``monthly_income``, ``assets``,
``debt``, ``amount_requested`` (required), ``purchase_price`` (money in major units), ``outcome``
(good/bad). The published ``credit_data`` names (``Status, Seniority, Home, Time, Age, Marital,
Records, Job, Expenses, Income, Assets, Debt, Amount, Price``) are read as aliases.
This module is a pure transform (file in, frames out).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from cardpilot.ingest.encodings import DEFAULT_ENCODING
from cardpilot.ingest.fields import ROW, FieldSpec, reject_duplicates, validate
from cardpilot.ingest.problems import SourceError
from cardpilot.ingest.rejects import REJECT_SCHEMA
from cardpilot.ingest.sources import csv_header, iter_csv

LABEL = "bad_outcome"
HOMES = frozenset({"rent", "owner", "parents", "priv", "other", "ignore"})
JOBS = frozenset({"fixed", "freelance", "partime", "others"})
MARITAL = frozenset({"married", "single", "separated", "widow", "divorced"})
OUTCOMES = frozenset({"good", "bad"})

SPECS: list[FieldSpec] = [
    FieldSpec("application_id", "id", required=True, max_length=64),
    FieldSpec("customer_id", "id", max_length=64),
    FieldSpec("applied_on", "date"),
    FieldSpec("seniority_years", "int", min_value=0, max_value=80, dtype=pl.Int16()),
    FieldSpec("home", "enum", allowed=HOMES),
    FieldSpec("term_months", "int", required=True, min_value=1, max_value=360, dtype=pl.Int16()),
    FieldSpec("age", "int", min_value=16, max_value=120, dtype=pl.Int16()),
    FieldSpec("marital_status", "enum", allowed=MARITAL),
    FieldSpec("adverse_records", "bool"),
    FieldSpec("job", "enum", allowed=JOBS),
    FieldSpec("monthly_expenses", "money", min_value=0),
    FieldSpec("monthly_income", "money", min_value=0),
    FieldSpec("assets", "money", min_value=0),
    FieldSpec("debt", "money", min_value=0),
    FieldSpec("amount_requested", "money", required=True, min_value=1),
    FieldSpec("purchase_price", "money", min_value=0),
    FieldSpec("outcome", "enum", allowed=OUTCOMES),
]
MONEY = ("monthly_expenses", "monthly_income", "assets", "debt", "amount_requested")
MONEY_COLUMNS = {**{m: f"{m}_minor" for m in MONEY}, "purchase_price": "purchase_price_minor"}
# credit_data (R modeldata) names → ours.
PUBLISHED_NAMES: dict[str, str] = {
    "status": "outcome",
    "seniority": "seniority_years",
    "home": "home",
    "time": "term_months",
    "age": "age",
    "marital": "marital_status",
    "records": "adverse_records",
    "job": "job",
    "expenses": "monthly_expenses",
    "income": "monthly_income",
    "assets": "assets",
    "debt": "debt",
    "amount": "amount_requested",
    "price": "purchase_price",
}
OURS = frozenset(s.name for s in SPECS)


@dataclass(frozen=True)
class ApplicationsRead:
    """Good rows as an applications frame (money in minor units), the labels, the rejects."""

    applications: pl.DataFrame
    labels: pl.DataFrame  # application_id, label, value (True = bad)
    rejects: pl.DataFrame
    rows_read: int


def column_name(name: str) -> str | None:
    key = name.strip().lower()
    return key if key in OURS else PUBLISHED_NAMES.get(key)


def read_applications(path: str | Path, *, encoding: str = DEFAULT_ENCODING) -> ApplicationsRead:
    """Read and check an applications file; good rows become frames, bad rows rejects."""
    path = Path(path)
    if not path.is_file():
        raise SourceError(f"{path}: no such file")
    header = csv_header(path, encoding)
    unknown = [n for n in header if column_name(n) is None]
    if unknown:
        raise SourceError(f"{path}: unknown application columns {unknown} (docs/data-formats.md)")
    ours = {n: column_name(n) or n for n in header}
    goods, rejects, rows_read = [], [], 0
    for chunk in iter_csv(path, encoding=encoding):
        rows_read += chunk.frame.height
        raw = chunk.frame.rename(ours)
        if "application_id" not in raw.columns:
            raw = raw.with_columns(pl.format("A{}", pl.col(ROW) - 1).alias("application_id"))
        checked = validate(raw, SPECS, file=str(path), header=list(ours.values()))
        goods.append(checked.good)
        rejects.append(checked.rejects)
    good = pl.concat(goods)
    good, duplicates = reject_duplicates(
        good, ["application_id"], file=str(path), field="application_id"
    )
    all_rejects = pl.concat([r.cast(REJECT_SCHEMA) for r in [*rejects, duplicates]])  # type: ignore[arg-type]
    inverse = {v: k for k, v in ours.items()}
    return ApplicationsRead(
        applications=applications_frame(good),
        labels=good.filter(pl.col("outcome").is_not_null()).select(
            "application_id",
            pl.lit(LABEL).alias("label"),
            (pl.col("outcome") == "bad").alias("value"),
        ),
        rejects=all_rejects.with_columns(pl.col("field").replace(inverse)).sort("row"),
        rows_read=rows_read,
    )


def applications_frame(good: pl.DataFrame) -> pl.DataFrame:
    """Checked rows as the applications frame: money columns renamed to minor units."""
    return good.drop(ROW, "outcome").rename(MONEY_COLUMNS)
