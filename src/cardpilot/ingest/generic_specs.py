"""The generic portfolio layout's tables and fields (docs/data-formats.md, CONTRACTS.md).

What each table's columns hold and which are required, how tables key and refer to each
other, and where they go in the store. Checks that compare a value with the import date or
with another field of its row live in :mod:`cardpilot.ingest.plausibility`.
"""

from __future__ import annotations

import polars as pl

from cardpilot.domain.portfolio import ACCOUNT_STATUSES, TRANSACTION_KINDS
from cardpilot.ingest.fields import FieldSpec

CURRENCY = (r"^[A-Z]{3}$", "not an ISO 4217 currency code (e.g. CNY)")
# 7 to 15 digits (E.164's longest), optionally after a +, with spaces, hyphens or brackets.
PHONE = (r"^\+?[ (]*(?:[0-9][ ()\-]*){7,15}$", "not a phone number (7 to 15 digits)")
EMAIL = (r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$", "not an e-mail address (name@domain)")
# Ten years: beyond any collections process; larger figures are unit or typing errors.
MAX_DAYS_PAST_DUE = 3_650
REPAYMENT_CODES = frozenset(range(-2, 10))

SPECS: dict[str, list[FieldSpec]] = {
    "customers": [
        FieldSpec("customer_id", "id", required=True, max_length=64),
        FieldSpec("name", "text", max_length=200, personal=True),
        FieldSpec("national_id", "text", max_length=64, personal=True),
        FieldSpec("phone", "text", max_length=40, personal=True, pattern=PHONE),
        FieldSpec("email", "text", max_length=254, personal=True, pattern=EMAIL),
        FieldSpec("birth_year", "int", dtype=pl.Int16()),
        FieldSpec("education", "text", max_length=16),
        FieldSpec("sex", "text", max_length=8),
        FieldSpec("marital_status", "text", max_length=8),
        FieldSpec("annual_income", "money", min_value=0),
        FieldSpec("locale", "text", max_length=8),
        FieldSpec("timezone", "text", max_length=40),
    ],
    "accounts": [
        FieldSpec("account_id", "id", required=True, max_length=64),
        FieldSpec("customer_id", "id", required=True, max_length=64),
        FieldSpec("currency", "text", required=True, pattern=CURRENCY, upper=True),
        FieldSpec("credit_limit", "money", required=True, min_value=0),
        FieldSpec("open_date", "date"),
        FieldSpec("status", "enum", allowed=frozenset(ACCOUNT_STATUSES)),
        FieldSpec("temp_limit", "money", min_value=0),
        FieldSpec("temp_limit_expires_on", "date"),
    ],
    "statements": [
        FieldSpec("account_id", "id", required=True, max_length=64),
        FieldSpec("cycle_date", "date", required=True),
        FieldSpec("due_date", "date"),
        FieldSpec("credit_limit", "money", min_value=0),
        FieldSpec("statement_balance", "money", required=True),
        FieldSpec("minimum_due", "money", min_value=0),
        FieldSpec("amount_paid", "money", required=True, min_value=0),
        FieldSpec("purchases", "money", min_value=0),
        FieldSpec("cash_advances", "money", min_value=0),
        FieldSpec("repayment_status", "int", allowed=REPAYMENT_CODES, dtype=pl.Int16()),
        FieldSpec(
            "days_past_due",
            "int",
            required=True,
            min_value=0,
            max_value=MAX_DAYS_PAST_DUE,
            dtype=pl.Int32(),
        ),
    ],
    "transactions": [
        FieldSpec("transaction_id", "id", required=True, max_length=64),
        FieldSpec("account_id", "id", required=True, max_length=64),
        FieldSpec("posted_at", "timestamp", required=True),
        FieldSpec("kind", "enum", required=True, allowed=frozenset(TRANSACTION_KINDS)),
        FieldSpec("amount", "money", required=True, min_value=0),
        FieldSpec("currency", "text", pattern=CURRENCY, upper=True),
        FieldSpec("merchant_category", "text", max_length=8),
    ],
    # Payments received, stored as transactions of kind ``payment`` (their ids share the
    # transactions' key: a payment id must not be a transaction id too).
    "payments": [
        FieldSpec("payment_id", "id", required=True, max_length=64),
        FieldSpec("account_id", "id", required=True, max_length=64),
        FieldSpec("paid_at", "timestamp", required=True),
        FieldSpec("amount", "money", required=True, min_value=0),
        FieldSpec("currency", "text", pattern=CURRENCY, upper=True),
    ],
    "labels": [
        FieldSpec("account_id", "id", required=True, max_length=64),
        FieldSpec("label", "text", required=True, max_length=32),
        FieldSpec("observed_on", "date", required=True),
        FieldSpec("value", "bool", required=True),
    ],
}
TABLES = ("customers", "accounts", "statements", "transactions", "payments", "labels")
REQUIRED_TABLES = ("customers", "accounts", "statements")
STORE_TABLE = {
    "customers": "customers",
    "accounts": "accounts",
    "statements": "statements",
    "transactions": "transactions",
    "payments": "transactions",
    "labels": "performance_labels",
}
KEY = {
    "customers": ["customer_id"],
    "accounts": ["account_id"],
    "statements": ["account_id", "cycle_date"],
    "transactions": ["transaction_id"],
    "payments": ["payment_id"],
    "labels": ["account_id", "label"],
}
PARENT = {
    "accounts": ("customers", "customer_id"),
    "statements": ("accounts", "account_id"),
    "transactions": ("accounts", "account_id"),
    "payments": ("accounts", "account_id"),
    "labels": ("accounts", "account_id"),
}
MONEY_TO_MINOR = {
    "annual_income": "annual_income_minor",
    "credit_limit": "credit_limit_minor",
    "temp_limit": "temp_limit_minor",
    "statement_balance": "statement_balance_minor",
    "minimum_due": "minimum_due_minor",
    "amount_paid": "amount_paid_minor",
    "purchases": "purchases_minor",
    "cash_advances": "cash_advances_minor",
    "amount": "amount_minor",
}
PERSONAL = {
    "name": "name_enc",
    "national_id": "national_id_enc",
    "phone": "phone_enc",
    "email": "email_enc",
}
