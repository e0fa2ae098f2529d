"""A one-account generic portfolio whose statements the transactions and payments explain."""

from __future__ import annotations

from pathlib import Path

import polars as pl

PORTFOLIO: dict[str, dict[str, list[str]]] = {
    "customers": {"customer_id": ["C1"]},
    "accounts": {
        "account_id": ["A1"],
        "customer_id": ["C1"],
        "currency": ["CNY"],
        "credit_limit": ["10000"],
    },
    "statements": {
        "account_id": ["A1", "A1"],
        "cycle_date": ["2025-01-31", "2025-02-28"],
        "statement_balance": ["500.00", "300.00"],
        "amount_paid": ["0", "250.00"],
        "days_past_due": ["0", "0"],
    },
    "transactions": {
        "transaction_id": ["T1", "T2"],
        "account_id": ["A1", "A1"],
        "posted_at": ["2025-01-10T12:00:00+08:00", "2025-02-05T09:00:00+08:00"],
        "kind": ["purchase", "purchase"],
        "amount": ["500.00", "50.00"],
    },
    "payments": {
        "payment_id": ["P1", "P2", "P3"],
        "account_id": ["A1", "A9", "A1"],
        "paid_at": [
            "2025-02-20T10:00:00+08:00",
            "2025-02-21T10:00:00+08:00",
            "2025-02-22T10:00:00+08:00",
        ],
        "amount": ["250.00", "10.00", "-5"],
    },
}


def with_customer(**fields: str) -> dict[str, dict[str, list[str]]]:
    """``PORTFOLIO`` with the customer's fields set and only good payments."""
    tables = {name: dict(columns) for name, columns in PORTFOLIO.items()}
    tables["customers"] = {**tables["customers"], **{k: [v] for k, v in fields.items()}}
    tables["payments"] = {k: v[:1] for k, v in tables["payments"].items()}
    return tables


def write_folder(folder: Path, tables: dict[str, dict[str, list[str]]]) -> Path:
    folder.mkdir(parents=True)
    for table, columns in tables.items():
        pl.DataFrame(columns).write_csv(folder / f"{table}.csv")
    return folder
