"""Imports post to the ledger: the generic layout's transactions and payments files and the UCI
layout's derived payments and movements, with statement memos and opening balances; each
re-import posts nothing twice, and `cardpilot ledger check` finds no violation."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from cardpilot.cli.output import envelope_data
from cardpilot.config import Settings
from cardpilot.jobs.importing import import_portfolio
from cardpilot.jobs.ledger import check_ledger
from cardpilot.store import ledger
from cardpilot.store.db import make_engine

from .portfolio import PORTFOLIO, write_folder

UCI_POSTINGS = 484_755  # 180,000 statement memos, payments and movements, 30,000 openings


def _folder(tmp_path: Path) -> Path:
    return write_folder(tmp_path / "portfolio", PORTFOLIO)


def test_generic_payments_and_transactions_post_once_and_reconcile(
    store_url: str, tmp_path: Path
) -> None:
    settings = Settings(home=tmp_path / "home")
    folder = _folder(tmp_path)
    first = import_portfolio(
        folder,
        layout="generic",
        database_url=store_url,
        settings=settings,
        today=dt.date(2025, 3, 5),
    )
    second = import_portfolio(
        folder,
        layout="generic",
        database_url=store_url,
        settings=settings,
        today=dt.date(2025, 3, 5),
    )

    assert (first.transactions, first.postings) == (3, 4)
    assert (second.transactions, second.postings) == (0, 0)
    rejects = pl.read_csv(first.rejects_file or "", infer_schema=False)
    assert rejects.filter(pl.col("file").str.ends_with("payments.csv")).select(
        "row", "field"
    ).rows() == [("3", "account_id"), ("4", "amount")]
    engine = make_engine(store_url)
    try:
        with engine.connect() as conn:
            postings = ledger.account_postings(conn, "A1")
            assert sorted(postings["idempotency_key"]) == [
                "open:A1",
                "tx:P1",
                "tx:T1",
                "tx:T2",
            ]
            opening = postings.filter(pl.col("kind") == "opening_balance")
            assert opening["amount_minor"].to_list() == [0]
            assert ledger.account_balance(conn, "A1", dt.date(2025, 2, 28))["total"] == 30_000
        checked = check_ledger(engine)
    finally:
        engine.dispose()
    assert (checked.accounts, checked.violations, checked.statements_checked) == (1, 0, 2)


def test_ledger_check_command_prints_the_counts_as_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from cardpilot.cli import app

    monkeypatch.setenv("CARDPILOT_HOME", str(tmp_path / "home"))
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    import_portfolio(
        _folder(tmp_path),
        layout="generic",
        database_url=url,
        settings=Settings(home=tmp_path / "home"),
        today=dt.date(2025, 3, 5),
    )

    result = CliRunner().invoke(app, ["ledger", "check", "--database", url, "--json"])

    assert result.exit_code == 0, result.output
    payload = envelope_data(result.stdout)
    assert payload["accounts"] == 1
    assert payload["violations"] == 0
    assert payload["by_invariant"]["waived_over_charged"] == 0


@pytest.mark.realdata
@pytest.mark.slow
def test_uci_import_posts_its_ledger_once_and_every_statement_reconciles(
    store_url: str, tmp_path: Path, uci_path: Path
) -> None:
    settings = Settings(home=tmp_path / "home")
    first = import_portfolio(uci_path, layout="uci", database_url=store_url, settings=settings)
    second = import_portfolio(uci_path, layout="uci", database_url=store_url, settings=settings)

    assert (first.postings, second.postings) == (UCI_POSTINGS, 0)
    engine = make_engine(store_url)
    try:
        checked = check_ledger(engine)
        with engine.connect() as conn:
            # Account 1's September statement (BILL_AMT1) is 3,913.
            balance = ledger.account_balance(conn, "1", dt.date(2005, 9, 30))
            kinds = ledger.account_postings(conn, "1")["kind"].value_counts()
    finally:
        engine.dispose()
    assert (checked.accounts, checked.violations, checked.statements_checked) == (
        30_000,
        0,
        180_000,
    )
    assert balance["total"] == 391_300
    assert dict(kinds.iter_rows())["statement_issued"] == 6


def test_a_later_cycle_posts_only_its_own_rows_and_still_reconciles(
    store_url: str, tmp_path: Path
) -> None:
    settings = Settings(home=tmp_path / "home")
    today = dt.date(2025, 4, 5)
    import_portfolio(
        _folder(tmp_path), layout="generic", database_url=store_url, settings=settings, today=today
    )
    march = {
        "customers": PORTFOLIO["customers"],
        "accounts": PORTFOLIO["accounts"],
        "statements": {
            "account_id": ["A1"],
            "cycle_date": ["2025-03-31"],
            "statement_balance": ["100.00"],
            "amount_paid": ["300.00"],
            "days_past_due": ["0"],
        },
        "transactions": {
            "transaction_id": ["T3"],
            "account_id": ["A1"],
            "posted_at": ["2025-03-03T09:00:00+08:00"],
            "kind": ["purchase"],
            "amount": ["100.00"],
        },
        "payments": {
            "payment_id": ["P4"],
            "account_id": ["A1"],
            "paid_at": ["2025-03-20T10:00:00+08:00"],
            "amount": ["300.00"],
        },
    }
    later = import_portfolio(
        write_folder(tmp_path / "march", march),
        layout="generic",
        database_url=store_url,
        settings=settings,
        today=today,
    )

    assert (later.statements, later.postings) == (1, 2)  # T3 and P4; no second opening
    engine = make_engine(store_url)
    try:
        checked = check_ledger(engine)
        with engine.connect() as conn:
            assert ledger.account_balance(conn, "A1", dt.date(2025, 3, 31))["total"] == 10_000
    finally:
        engine.dispose()
    assert (checked.violations, checked.statements_checked) == (0, 3)
