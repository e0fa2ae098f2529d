"""The UCI "Default of Credit Card Clients" layout → customers, accounts, statements and labels.

One row per card account (header ``ID, X1 … X23, Y``; see ``../shared/data/README.md``). Each row
becomes one customer (``C<ID>``), one account (``<ID>``, the id every export shows), six monthly
statements (April–September 2005) and the outcome ``Y`` as the label ``default_next_month``.
The mapping, including how repayment status codes become days past due, is documented in
``docs/data-formats.md`` and in CONTRACTS.md ("UCI mapping"). Every column is required.

This module is a pure transform (file in, frames out); ``cardpilot.ingest.loader`` stores them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from cardpilot.ingest.fields import ROW, FieldSpec, reject_duplicates, validate
from cardpilot.ingest.rejects import REJECT_SCHEMA, rejected_row_count
from cardpilot.ingest.sources import SourceError, csv_header, iter_csv

CURRENCY = "TWD"
LABEL = "default_next_month"
OBSERVED_ON = dt.date(2005, 10, 31)
DUE_DAYS = 20  # due date = cycle date + 20 days (a common grace period; UCI gives none)
DAYS_PER_MONTH_OVERDUE = 30

COLUMNS = ["ID", *(f"X{i}" for i in range(1, 24)), "Y"]

# UCI orders months most recent first: index 0 is September 2005, index 5 is April 2005.
CYCLE_DATES = [
    dt.date(2005, 9, 30),
    dt.date(2005, 8, 31),
    dt.date(2005, 7, 31),
    dt.date(2005, 6, 30),
    dt.date(2005, 5, 31),
    dt.date(2005, 4, 30),
]
REPAYMENT_COLUMNS = [f"X{i}" for i in range(6, 12)]  # PAY_0, PAY_2 … PAY_6
BILL_COLUMNS = [f"X{i}" for i in range(12, 18)]  # BILL_AMT1 … BILL_AMT6
PAID_COLUMNS = [f"X{i}" for i in range(18, 24)]  # PAY_AMT1 … PAY_AMT6

REPAYMENT_CODES = frozenset(range(-2, 10))
SEX = {1: "male", 2: "female"}
EDUCATION = {
    0: "unknown",  # 0, 5 and 6 are undocumented by the source
    1: "graduate",
    2: "university",
    3: "high_school",
    4: "other",
    5: "unknown",
    6: "unknown",
}
MARRIAGE = {0: "unknown", 1: "married", 2: "single", 3: "other"}

SPECS: list[FieldSpec] = [
    FieldSpec("ID", "id", required=True, max_length=60),
    FieldSpec("X1", "money", required=True, min_value=0),
    FieldSpec("X2", "int", required=True, allowed=frozenset(SEX)),
    FieldSpec("X3", "int", required=True, allowed=frozenset(EDUCATION)),
    FieldSpec("X4", "int", required=True, allowed=frozenset(MARRIAGE)),
    FieldSpec("X5", "int", required=True, min_value=16, max_value=120),
    *(FieldSpec(c, "int", required=True, allowed=REPAYMENT_CODES) for c in REPAYMENT_COLUMNS),
    # Negative statement balances are credit balances (overpayment), so they stay.
    *(FieldSpec(c, "money", required=True) for c in BILL_COLUMNS),
    *(FieldSpec(c, "money", required=True, min_value=0) for c in PAID_COLUMNS),
    FieldSpec("Y", "int", required=True, allowed=frozenset({0, 1})),
]

CUSTOMER_SCHEMA: dict[str, pl.DataType] = {
    "customer_id": pl.Utf8(),
    "birth_year": pl.Int16(),
    "education": pl.Utf8(),
    "annual_income_minor": pl.Int64(),
    "sex": pl.Utf8(),
    "marital_status": pl.Utf8(),
}
ACCOUNT_SCHEMA: dict[str, pl.DataType] = {
    "account_id": pl.Utf8(),
    "customer_id": pl.Utf8(),
    "credit_limit_minor": pl.Int64(),
    "open_date": pl.Date(),
    "status": pl.Utf8(),
    "currency": pl.Utf8(),
}
STATEMENT_SCHEMA: dict[str, pl.DataType] = {
    "account_id": pl.Utf8(),
    "cycle_date": pl.Date(),
    "due_date": pl.Date(),
    "credit_limit_minor": pl.Int64(),
    "statement_balance_minor": pl.Int64(),
    "minimum_due_minor": pl.Int64(),
    "amount_paid_minor": pl.Int64(),
    "purchases_minor": pl.Int64(),
    "cash_advances_minor": pl.Int64(),
    "repayment_status": pl.Int16(),
    "days_past_due": pl.Int32(),
}
LABEL_SCHEMA: dict[str, pl.DataType] = {
    "account_id": pl.Utf8(),
    "label": pl.Utf8(),
    "observed_on": pl.Date(),
    "value": pl.Boolean(),
}


@dataclass(frozen=True)
class UciRead:
    """What one UCI file holds, as store-shaped frames, and what was rejected."""

    customers: pl.DataFrame
    accounts: pl.DataFrame
    statements: pl.DataFrame
    labels: pl.DataFrame
    rejects: pl.DataFrame  # file, row, field, value, reason
    rows_read: int

    @property
    def rejected_rows(self) -> int:
        return rejected_row_count(self.rejects)


def days_past_due(code: pl.Expr) -> pl.Expr:
    """Repayment status code → days past due.

    -2 (no consumption), -1 (paid in full) and 0 (revolving, minimum paid) are not overdue;
    1 … 8 months of delay are 30 days each; 9 ("nine months and above") is 270 days.
    """
    return (code.clip(lower_bound=0) * DAYS_PER_MONTH_OVERDUE).cast(pl.Int32)


def _check_header(path: Path) -> None:
    header = csv_header(path)
    if header != COLUMNS:
        missing = [c for c in COLUMNS if c not in header]
        extra = [c for c in header if c not in COLUMNS]
        detail = []
        if missing:
            detail.append(f"missing {', '.join(missing)}")
        if extra:
            detail.append(f"unexpected {', '.join(extra)}")
        if not detail:
            detail.append("columns out of order")
        raise SourceError(
            f"{path}: not the UCI layout ({'; '.join(detail)}); expected the header "
            f"ID, X1 … X23, Y (use --format generic for the generic layout)"
        )


def read_uci(path: str | Path) -> UciRead:
    """Read and check a UCI file; good rows become frames, bad rows become reject records."""
    path = Path(path)
    if not path.is_file():
        raise SourceError(f"{path}: no such file")
    _check_header(path)
    file = str(path)
    goods: list[pl.DataFrame] = []
    rejects: list[pl.DataFrame] = []
    rows_read = 0
    for chunk in iter_csv(path):
        rows_read += chunk.frame.height
        checked = validate(chunk.frame, SPECS, file=file, expected_fields=len(COLUMNS))
        goods.append(checked.good)
        rejects.append(checked.rejects)
    good = pl.concat(goods) if goods else pl.DataFrame()
    if good.height:
        good, duplicates = reject_duplicates(good, ["ID"], file=file, field="ID")
        rejects.append(duplicates)
    all_rejects = (
        pl.concat([r.cast(REJECT_SCHEMA) for r in rejects]).sort("row")  # type: ignore[arg-type]
        if rejects
        else pl.DataFrame(schema=REJECT_SCHEMA)
    )
    if good.height == 0:
        return UciRead(
            pl.DataFrame(schema=CUSTOMER_SCHEMA),
            pl.DataFrame(schema=ACCOUNT_SCHEMA),
            pl.DataFrame(schema=STATEMENT_SCHEMA),
            pl.DataFrame(schema=LABEL_SCHEMA),
            all_rejects,
            rows_read,
        )
    return UciRead(
        customers=_customers(good),
        accounts=_accounts(good),
        statements=_statements(good),
        labels=_labels(good),
        rejects=all_rejects,
        rows_read=rows_read,
    )


def _customer_id() -> pl.Expr:
    return pl.concat_str(pl.lit("C"), pl.col("ID"))


def _customers(good: pl.DataFrame) -> pl.DataFrame:
    return good.select(
        _customer_id().alias("customer_id"),
        (2005 - pl.col("X5")).alias("birth_year"),
        pl.col("X3").replace_strict(EDUCATION, return_dtype=pl.Utf8).alias("education"),
        pl.lit(None, dtype=pl.Int64).alias("annual_income_minor"),
        pl.col("X2").replace_strict(SEX, return_dtype=pl.Utf8).alias("sex"),
        pl.col("X4").replace_strict(MARRIAGE, return_dtype=pl.Utf8).alias("marital_status"),
    ).cast(CUSTOMER_SCHEMA)  # type: ignore[arg-type]


def _accounts(good: pl.DataFrame) -> pl.DataFrame:
    return good.select(
        pl.col("ID").alias("account_id"),
        _customer_id().alias("customer_id"),
        pl.col("X1").alias("credit_limit_minor"),
        pl.lit(None, dtype=pl.Date).alias("open_date"),
        pl.lit("active").alias("status"),
        pl.lit(CURRENCY).alias("currency"),
    ).cast(ACCOUNT_SCHEMA)  # type: ignore[arg-type]


def _statements(good: pl.DataFrame) -> pl.DataFrame:
    months = []
    # Oldest first, so each account's statements come out in cycle order.
    for k in reversed(range(6)):
        cycle = CYCLE_DATES[k]
        code = pl.col(REPAYMENT_COLUMNS[k])
        months.append(
            good.select(
                pl.col(ROW),
                pl.col("ID").alias("account_id"),
                pl.lit(cycle).alias("cycle_date"),
                pl.lit(cycle + dt.timedelta(days=DUE_DAYS)).alias("due_date"),
                pl.col("X1").alias("credit_limit_minor"),
                pl.col(BILL_COLUMNS[k]).alias("statement_balance_minor"),
                pl.lit(None, dtype=pl.Int64).alias("minimum_due_minor"),
                pl.col(PAID_COLUMNS[k]).alias("amount_paid_minor"),
                pl.lit(None, dtype=pl.Int64).alias("purchases_minor"),
                pl.lit(None, dtype=pl.Int64).alias("cash_advances_minor"),
                code.alias("repayment_status"),
                days_past_due(code).alias("days_past_due"),
            )
        )
    return (
        pl.concat(months).sort([ROW, "cycle_date"]).drop(ROW).cast(STATEMENT_SCHEMA)  # type: ignore[arg-type]
    )


def _labels(good: pl.DataFrame) -> pl.DataFrame:
    return good.select(
        pl.col("ID").alias("account_id"),
        pl.lit(LABEL).alias("label"),
        pl.lit(OBSERVED_ON).alias("observed_on"),
        (pl.col("Y") == 1).alias("value"),
    ).cast(LABEL_SCHEMA)  # type: ignore[arg-type]
