"""The portfolio's shape: the columns and types of its tables as frames, and their vocabularies.

One definition for every side that makes or reads these frames: the layouts' readers
(``cardpilot.ingest``) produce them, the store's frame readers (``cardpilot.store.frames``) give
them back, and scoring consumes them, so a model sees the same columns from a file or a store.
"""

from __future__ import annotations

import polars as pl

ACCOUNT_STATUSES = ("active", "frozen", "closed", "charged_off")
TRANSACTION_KINDS = ("purchase", "cash_advance", "payment", "fee", "interest", "refund")

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
