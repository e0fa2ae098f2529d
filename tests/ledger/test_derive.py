"""Postings derived from imported rows: UCI statements, transactions, statement memos."""

from __future__ import annotations

import datetime as dt

import polars as pl

from cardpilot.ledger.balances import balances
from cardpilot.ledger.derive import from_transactions, from_uci_statements
from cardpilot.ledger.invariants import check_postings
from cardpilot.ledger.postings import POSTING_SCHEMA

ZONE = "Asia/Taipei"
CYCLES = [dt.date(2005, 4, 30), dt.date(2005, 5, 31), dt.date(2005, 6, 30)]


def _uci(balances_: list[int], paid: list[int], account: str = "1") -> pl.DataFrame:
    return pl.DataFrame(
        {
            "account_id": [account] * 3,
            "cycle_date": CYCLES,
            "due_date": [c + dt.timedelta(days=20) for c in CYCLES],
            "statement_balance_minor": balances_,
            "amount_paid_minor": paid,
        }
    )


def test_uci_payments_and_unexplained_movement_reconcile_every_statement() -> None:
    derived = from_uci_statements(_uci([10_000, 4_000, 9_000], [2_000, 8_000, 0]), ZONE, "TWD")
    assert derived.schema == pl.Schema(POSTING_SCHEMA)
    rows = derived.select("kind", "amount_minor", "effective_on").rows()
    assert rows == [
        ("payment", -2_000, dt.date(2005, 4, 20)),  # the March cycle's due date
        ("statement_issued", 10_000, dt.date(2005, 4, 30)),
        ("payment", -8_000, dt.date(2005, 5, 20)),  # April's statement's due date
        ("purchase", 2_000, dt.date(2005, 5, 31)),  # 4,000 − 10,000 + 8,000
        ("statement_issued", 4_000, dt.date(2005, 5, 31)),
        ("purchase", 5_000, dt.date(2005, 6, 30)),
        ("statement_issued", 9_000, dt.date(2005, 6, 30)),
    ]
    # The opening balance the store adds (first statement less what postings explain).
    opening = derived.head(1).with_columns(
        pl.lit("opening_balance").alias("kind"),
        pl.lit(12_000, dtype=pl.Int64).alias("amount_minor"),
        pl.lit("open:1").alias("idempotency_key"),
    )
    ledger = pl.concat([opening, derived])
    assert check_postings(ledger).height == 0
    assert balances(ledger, dt.date(2005, 6, 30))["total"].to_list() == [9_000]
    assert derived["effective_at"][1] == dt.datetime(2005, 4, 29, 16, tzinfo=dt.UTC)


def test_a_balance_that_falls_by_more_than_was_paid_posts_a_refund() -> None:
    derived = from_uci_statements(_uci([5_000, 1_000, -500], [0, 1_000, 0]), ZONE, "TWD")
    moved = derived.filter(pl.col("idempotency_key").str.ends_with(":moved"))
    assert moved.select("kind", "amount_minor").rows() == [("refund", -3_000), ("refund", -1_500)]
    assert check_postings(derived.filter(pl.col("kind") != "statement_issued")).height == 0


def test_transactions_post_with_their_kind_sign_and_business_day() -> None:
    tx = pl.DataFrame(
        {
            "transaction_id": ["T1", "T2", "T3", "T4"],
            "account_id": ["A", "A", "A", "A"],
            "posted_at": [
                dt.datetime(2026, 1, 31, 17, 0, tzinfo=dt.UTC),  # 1 Feb in Shanghai
                dt.datetime(2026, 1, 5, tzinfo=dt.UTC),
                dt.datetime(2026, 1, 6, tzinfo=dt.UTC),
                dt.datetime(2026, 1, 7, tzinfo=dt.UTC),
            ],
            "kind": ["purchase", "payment", "fee", "interest"],
            "amount_minor": [100, 40, 5, 3],
            "currency": ["CNY"] * 4,
        }
    )
    derived = from_transactions(tx, "Asia/Shanghai")
    assert derived.select("kind", "component", "amount_minor", "idempotency_key").rows() == [
        ("purchase", "principal", 100, "tx:T1"),
        ("payment", "principal", -40, "tx:T2"),
        ("fee", "fees", 5, "tx:T3"),
        ("interest", "interest", 3, "tx:T4"),
    ]
    assert derived["effective_on"][0] == dt.date(2026, 2, 1)
    assert check_postings(derived).height == 0


def test_a_zero_amount_transaction_posts_nothing() -> None:
    tx = pl.DataFrame(
        {
            "transaction_id": ["T1", "T2"],
            "account_id": ["A", "A"],
            "posted_at": [dt.datetime(2026, 1, 5, tzinfo=dt.UTC)] * 2,
            "kind": ["payment", "purchase"],
            "amount_minor": [0, 10],
            "currency": ["CNY", "CNY"],
        }
    )
    assert from_transactions(tx, "Asia/Shanghai")["idempotency_key"].to_list() == ["tx:T2"]
