"""A generic import with statements only (no transactions or payments file) derives the
ledger's money from the statements as the UCI layout does: a statement memo per cycle, what
each statement says was paid, and the movement the payment leaves unexplained; a further
import of a later cycle posts that cycle only, against the previous statement of the earlier
import; re-imports post nothing twice and `cardpilot ledger check` finds no violation."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from cardpilot.config import Settings
from cardpilot.jobs.importing import import_portfolio
from cardpilot.jobs.ledger import check_ledger
from cardpilot.store import ledger
from cardpilot.store.db import make_engine

from .portfolio import PORTFOLIO, write_folder

TODAY = dt.date(2025, 5, 5)


def _statements_only(cycles: list[str], balances: list[str], paid: list[str]) -> dict:
    tables = {t: dict(PORTFOLIO[t]) for t in ("customers", "accounts")}
    tables["statements"] = {
        "account_id": ["A1"] * len(cycles),
        "cycle_date": cycles,
        "due_date": [
            (dt.date.fromisoformat(c) + dt.timedelta(days=20)).isoformat() for c in cycles
        ],
        "statement_balance": balances,
        "minimum_due": ["50.00"] * len(cycles),
        "amount_paid": paid,
        "days_past_due": ["0"] * len(cycles),
    }
    return tables


def _import(folder: Path, url: str, home: Path) -> int:
    result = import_portfolio(
        folder, layout="generic", database_url=url, settings=Settings(home=home), today=TODAY
    )
    return result.postings


def test_a_statements_only_import_derives_bills_and_payments_and_reconciles(
    store_url: str, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    first = write_folder(
        tmp_path / "first",
        _statements_only(
            ["2025-01-31", "2025-02-28", "2025-03-31"],
            ["500.00", "300.00", "420.00"],
            ["100.00", "250.00", "0"],
        ),
    )
    # memos 3, payments 2 (January's on its own cycle date), movements 2 (February: 300 − 500
    # + 250 = 50; March: 420 − 300 + 0 = 120), the opening balance 1.
    assert _import(first, store_url, home) == 8
    assert _import(first, store_url, home) == 0
    later = write_folder(
        tmp_path / "later",
        _statements_only(["2025-04-30"], ["100.00"], ["400.00"]),
    )
    assert _import(later, store_url, home) == 3  # April: its memo, payment and movement
    engine = make_engine(store_url)
    try:
        with engine.connect() as conn:
            postings = ledger.account_postings(conn, "A1")
            by_key = dict(zip(postings["idempotency_key"], postings["amount_minor"], strict=True))
            on = dict(zip(postings["idempotency_key"], postings["effective_on"], strict=True))
            assert by_key["stm:A1:20250228:moved"] == 5_000
            assert by_key["stm:A1:20250331:moved"] == 12_000
            assert by_key["stm:A1:20250430:paid"] == -40_000
            assert by_key["stm:A1:20250430:moved"] == 10_000 - 42_000 + 40_000
            # Paid on the previous statement's due date (March's: 2025-04-20).
            assert on["stm:A1:20250430:paid"] == dt.date(2025, 4, 20)
            assert by_key["open:A1"] == 50_000 + 10_000  # January's balance and its payment
            for cycle, balance in [("2025-02-28", 30_000), ("2025-04-30", 10_000)]:
                day = dt.date.fromisoformat(cycle)
                assert ledger.account_balance(conn, "A1", day)["total"] == balance
            kinds = postings.group_by("kind").len().sort("kind")
            assert dict(kinds.iter_rows()) == {
                "opening_balance": 1,
                "payment": 3,
                "purchase": 3,
                "statement_issued": 4,
            }
        checked = check_ledger(engine)
    finally:
        engine.dispose()
    assert (checked.accounts, checked.violations, checked.statements_checked) == (1, 0, 4)
    assert checked.postings == 11


def test_an_import_with_transactions_derives_nothing_from_its_statements(
    store_url: str, tmp_path: Path
) -> None:
    folder = write_folder(tmp_path / "portfolio", PORTFOLIO)
    import_portfolio(
        folder,
        layout="generic",
        database_url=store_url,
        settings=Settings(home=tmp_path / "home"),
        today=dt.date(2025, 3, 5),
    )
    engine = make_engine(store_url)
    try:
        with engine.connect() as conn:
            keys = ledger.account_postings(conn, "A1")["idempotency_key"]
    finally:
        engine.dispose()
    assert not keys.str.starts_with("stm:").any()
    assert not keys.str.starts_with("st:").any()
    assert pl.Series(keys).len() == 4
