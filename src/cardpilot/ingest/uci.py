"""The UCI "Default of Credit Card Clients" layout → customers, accounts, statements and labels.

One row per card account (header ``ID, X1 … X23, Y``; see ``../shared/data/README.md``, or the
published names ``ID, LIMIT_BAL, SEX, …, PAY_0, …, default.payment.next.month`` of the UCI
workbook and its Kaggle copy, in any order; the workbook's two header lines, ``X1 …`` above
``LIMIT_BAL …``, are read as one). Each row
becomes one customer (``C<ID>``), one account (``<ID>``, the id every export shows), six monthly
statements (April–September 2005) and the outcome ``Y`` as the label ``default_next_month``.
The mapping, including how repayment status codes become days past due, is documented in
``docs/data-formats.md`` and in CONTRACTS.md ("UCI mapping"). Every column is required.

This module is a pure transform (file in, frames out); ``cardpilot.jobs.importing`` stores them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from cardpilot.domain.portfolio import (
    ACCOUNT_SCHEMA,
    CUSTOMER_SCHEMA,
    LABEL_SCHEMA,
    STATEMENT_SCHEMA,
)
from cardpilot.ingest.encodings import DEFAULT_ENCODING, read_header_line
from cardpilot.ingest.fields import ROW, FieldSpec, reject_duplicates, validate
from cardpilot.ingest.problems import SourceError
from cardpilot.ingest.rejects import REJECT_SCHEMA, rejected_row_count
from cardpilot.ingest.sources import csv_header, iter_csv

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

# The published column names (the UCI workbook's second header line, Kaggle's copy) → ours.
PUBLISHED_NAMES: dict[str, str] = {
    "limit_bal": "X1",
    "sex": "X2",
    "education": "X3",
    "marriage": "X4",
    "age": "X5",
    "pay_0": "X6",
    "pay_1": "X6",  # some copies number the first repayment status 1, not 0
    **{f"pay_{k}": f"X{k + 5}" for k in range(2, 7)},
    **{f"bill_amt{k}": f"X{k + 11}" for k in range(1, 7)},
    **{f"pay_amt{k}": f"X{k + 17}" for k in range(1, 7)},
    "default_payment_next_month": "Y",
    "default_payment": "Y",
}

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


def canonical_name(name: str) -> str | None:
    """Our name (``X1``) for a column named either way, case and separators aside."""
    key = "_".join(name.strip().lower().replace(".", " ").replace("_", " ").split())
    upper = name.strip().upper()
    if upper in COLUMNS:
        return upper
    if key == "id":
        return "ID"
    return PUBLISHED_NAMES.get(key)


def uci_header(path: Path, encoding: str = DEFAULT_ENCODING) -> tuple[list[str], int]:
    """The file's own column names and the line they are on (1, or 2 below the workbook's
    ``X1 … Y`` line); ``SourceError`` unless they name every UCI column once."""
    first = read_header_line(path, encoding)
    if first.lstrip().startswith(",X1,") or first.replace(" ", "").startswith(",X1,"):
        line = 2
    else:
        line = 1
    header = csv_header(path, encoding, line_number=line)
    canonical = [canonical_name(n) for n in header]
    missing = [c for c in COLUMNS if c not in canonical]
    extra = [n for n, c in zip(header, canonical, strict=True) if c is None]
    repeated = sorted({c for c in canonical if c is not None and canonical.count(c) > 1})
    detail = []
    if missing:
        detail.append(f"missing {', '.join(missing)}")
    if extra:
        detail.append(f"unexpected {', '.join(extra)}")
    if repeated:
        detail.append(f"{', '.join(repeated)} more than once")
    if detail:
        raise SourceError(
            f"{path}: not the UCI layout ({'; '.join(detail)}); expected the header "
            "ID, X1 … X23, Y or the published names ID, LIMIT_BAL, …, PAY_0, …, "
            "default.payment.next.month (use --format generic for the generic layout)"
        )
    return header, line


def read_uci(path: str | Path, *, encoding: str = DEFAULT_ENCODING) -> UciRead:
    """Read and check a UCI file; good rows become frames, bad rows become reject records."""
    path = Path(path)
    if not path.is_file():
        raise SourceError(f"{path}: no such file")
    header, header_line = uci_header(path, encoding)
    ours = {name: canonical_name(name) or name for name in header}
    theirs = {c: n for n, c in ours.items()}
    file = str(path)
    goods: list[pl.DataFrame] = []
    rejects: list[pl.DataFrame] = []
    rows_read = 0
    for chunk in iter_csv(path, encoding=encoding, header_line=header_line):
        rows_read += chunk.frame.height
        checked = validate(
            chunk.frame.rename(ours), SPECS, file=file, header=[ours[n] for n in header]
        )
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
    if ours != {n: n for n in header}:  # rejects name the file's own columns
        all_rejects = all_rejects.with_columns(pl.col("field").replace(theirs))
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
        customers=customers_from_rows(good),
        accounts=accounts_from_rows(good),
        statements=statements_from_rows(good),
        labels=labels_from_rows(good),
        rejects=all_rejects,
        rows_read=rows_read,
    )


def _customer_id() -> pl.Expr:
    return pl.concat_str(pl.lit("C"), pl.col("ID"))


def customers_from_rows(good: pl.DataFrame) -> pl.DataFrame:
    return good.select(
        _customer_id().alias("customer_id"),
        (2005 - pl.col("X5")).alias("birth_year"),
        pl.col("X3").replace_strict(EDUCATION, return_dtype=pl.Utf8).alias("education"),
        pl.lit(None, dtype=pl.Int64).alias("annual_income_minor"),
        pl.col("X2").replace_strict(SEX, return_dtype=pl.Utf8).alias("sex"),
        pl.col("X4").replace_strict(MARRIAGE, return_dtype=pl.Utf8).alias("marital_status"),
    ).cast(CUSTOMER_SCHEMA)  # type: ignore[arg-type]


def accounts_from_rows(good: pl.DataFrame) -> pl.DataFrame:
    return good.select(
        pl.col("ID").alias("account_id"),
        _customer_id().alias("customer_id"),
        pl.col("X1").alias("credit_limit_minor"),
        pl.lit(None, dtype=pl.Date).alias("open_date"),
        pl.lit("active").alias("status"),
        pl.lit(CURRENCY).alias("currency"),
    ).cast(ACCOUNT_SCHEMA)  # type: ignore[arg-type]


def statements_from_rows(good: pl.DataFrame) -> pl.DataFrame:
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


def labels_from_rows(good: pl.DataFrame) -> pl.DataFrame:
    return good.select(
        pl.col("ID").alias("account_id"),
        pl.lit(LABEL).alias("label"),
        pl.lit(OBSERVED_ON).alias("observed_on"),
        (pl.col("Y") == 1).alias("value"),
    ).cast(LABEL_SCHEMA)  # type: ignore[arg-type]
