"""Postings from imported rows: whole frames at a time (Polars), no Python per row.

- **Transactions** (the generic layout's ``transactions`` and ``payments`` files, stored as
  ``transactions``): one posting each, keyed ``tx:<transaction id>``, on the day it was posted
  (in the issuer's time zone); a zero amount posts nothing.
- **Statements**: the ledger check reconciles the postings against the imported statements
  themselves, and each account's first statement fixes its opening balance
  (``cardpilot.store.ledger.opening_balances_sql``). The UCI layout also posts a
  ``statement_issued`` memo per cycle (``st:<account>:<cycle>``) carrying the stated balance.
- **The UCI layout** gives only statement balances (``BILL_AMT*``) and amounts paid
  (``PAY_AMT*``), so its money is derived from them: a payment per month with something paid,
  on the previous statement's due date (the date is not given; the due date lies inside the
  cycle the payment is reported in), and the balance movement the payment does not explain as
  one posting on the cycle date: a purchase when the balance grew by more than the payment
  took off, a refund (a credit) when it fell by more. The first cycle's movement is part of
  the opening balance (``cardpilot.store.ledger.opening_balances_sql``): nothing before it is
  known.

Amounts paid are posted against principal: an import does not know how the issuer allocated a
payment between fees, interest and principal (docs/ledger.md).
"""

from __future__ import annotations

import polars as pl

from cardpilot.ledger.postings import POSTING_SCHEMA, Component, Kind, Source

# Transaction kinds (``domain.portfolio.TRANSACTION_KINDS``) → posting kind, component, sign.
TRANSACTION_POSTINGS: dict[str, tuple[Kind, Component, int]] = {
    "purchase": (Kind.PURCHASE, Component.PRINCIPAL, 1),
    "cash_advance": (Kind.CASH_ADVANCE, Component.PRINCIPAL, 1),
    "payment": (Kind.PAYMENT, Component.PRINCIPAL, -1),
    "refund": (Kind.REFUND, Component.PRINCIPAL, -1),
    "interest": (Kind.INTEREST, Component.INTEREST, 1),
    "fee": (Kind.FEE, Component.FEES, 1),
}
# A UCI payment's day when no earlier statement gives its due date: the due date of the
# cycle before (cycle ends on a month's last day, due DUE_DAYS later).
UCI_DUE_DAYS = 20


def local_midnight(day: pl.Expr, zone: str) -> pl.Expr:
    """The start of ``day`` in ``zone``, as a UTC instant."""
    return (
        day.cast(pl.Datetime("us"))
        .dt.replace_time_zone(zone, ambiguous="earliest", non_existent="null")
        .dt.convert_time_zone("UTC")
    )


def shaped_postings(frame: pl.DataFrame, **columns: pl.Expr) -> pl.DataFrame:
    """``frame`` shaped as postings: every ``POSTING_SCHEMA`` column, missing ones null."""
    exprs = [
        columns[name].alias(name) if name in columns else pl.lit(None, dtype=dtype).alias(name)
        for name, dtype in POSTING_SCHEMA.items()
    ]
    return frame.select(exprs).cast(POSTING_SCHEMA)  # type: ignore[arg-type]


def day_key(prefix: str, day: pl.Expr, suffix: str = "") -> pl.Expr:
    return pl.concat_str(
        pl.lit(prefix), pl.col("account_id"), pl.lit(":"), day.dt.strftime("%Y%m%d"), pl.lit(suffix)
    )


def from_transactions(transactions: pl.DataFrame, zone: str) -> pl.DataFrame:
    """Store-shaped ``transactions`` rows (``transaction_id``, ``account_id``, ``posted_at``
    with its zone, ``kind``, ``amount_minor`` ≥ 0, ``currency``) as postings."""
    kinds = {k: v[0].value for k, v in TRANSACTION_POSTINGS.items()}
    components = {k: v[1].value for k, v in TRANSACTION_POSTINGS.items()}
    signs = {k: v[2] for k, v in TRANSACTION_POSTINGS.items()}
    posted = pl.col("posted_at")
    if transactions.schema["posted_at"].time_zone is None:  # type: ignore[attr-defined]
        posted = posted.dt.replace_time_zone("UTC")
    kind = pl.col("kind")
    return shaped_postings(
        # A zero amount moves nothing (and would be a charge or credit of nothing).
        transactions.filter(pl.col("amount_minor") != 0),
        account_id=pl.col("account_id"),
        kind=kind.replace_strict(kinds, return_dtype=pl.Utf8),
        component=kind.replace_strict(components, return_dtype=pl.Utf8),
        amount_minor=pl.col("amount_minor") * kind.replace_strict(signs, return_dtype=pl.Int64),
        currency=pl.col("currency"),
        effective_at=posted.dt.convert_time_zone("UTC"),
        effective_on=posted.dt.convert_time_zone(zone).dt.date(),
        source=pl.lit(Source.IMPORT.value),
        idempotency_key=pl.concat_str(pl.lit("tx:"), pl.col("transaction_id")),
    )


def statements_issued(
    statements: pl.DataFrame, zone: str, currency: str | None = None
) -> pl.DataFrame:
    """A ``statement_issued`` memo per statement row (its stated balance, on its cycle date)."""
    cycle = pl.col("cycle_date")
    return shaped_postings(
        statements,
        account_id=pl.col("account_id"),
        kind=pl.lit(Kind.STATEMENT_ISSUED.value),
        amount_minor=pl.col("statement_balance_minor"),
        currency=pl.lit(currency, dtype=pl.Utf8),
        effective_at=local_midnight(cycle, zone),
        effective_on=cycle,
        source=pl.lit(Source.IMPORT.value),
        idempotency_key=day_key("st:", cycle),
    )


def from_uci_statements(statements: pl.DataFrame, zone: str, currency: str) -> pl.DataFrame:
    """Every posting of the UCI layout's statements (each account's cycles complete, in order):
    payments, the movement payments leave unexplained, and the statement memos."""
    ordered = statements.sort("account_id", "cycle_date")
    cycle, balance, paid = (
        pl.col("cycle_date"),
        pl.col("statement_balance_minor"),
        pl.col("amount_paid_minor"),
    )
    before = ordered.with_columns(
        pl.col("due_date").shift(1).over("account_id").alias("previous_due"),
        balance.shift(1).over("account_id").alias("previous_balance"),
    )
    fallback_due = cycle.dt.offset_by("-1mo").dt.month_end() + pl.duration(days=UCI_DUE_DAYS)
    paid_on = pl.min_horizontal(pl.col("previous_due").fill_null(fallback_due), cycle)
    payments = shaped_postings(
        before.filter(paid > 0),
        account_id=pl.col("account_id"),
        kind=pl.lit(Kind.PAYMENT.value),
        component=pl.lit(Component.PRINCIPAL.value),
        amount_minor=-paid,
        currency=pl.lit(currency),
        effective_at=local_midnight(paid_on, zone),
        effective_on=paid_on,
        source=pl.lit(Source.IMPORT.value),
        idempotency_key=day_key("uci:", cycle, ":paid"),
    )
    moved = before.with_columns(
        (balance - pl.col("previous_balance") + paid).alias("movement")
    ).filter(pl.col("movement").is_not_null() & (pl.col("movement") != 0))
    movements = shaped_postings(
        moved,
        account_id=pl.col("account_id"),
        kind=pl.when(pl.col("movement") > 0)
        .then(pl.lit(Kind.PURCHASE.value))
        .otherwise(pl.lit(Kind.REFUND.value)),
        component=pl.lit(Component.PRINCIPAL.value),
        amount_minor=pl.col("movement"),
        currency=pl.lit(currency),
        effective_at=local_midnight(cycle, zone),
        effective_on=cycle,
        source=pl.lit(Source.IMPORT.value),
        idempotency_key=day_key("uci:", cycle, ":moved"),
    )
    memos = statements_issued(ordered, zone, currency)
    return pl.concat([payments, movements, memos]).sort("account_id", "effective_on")
