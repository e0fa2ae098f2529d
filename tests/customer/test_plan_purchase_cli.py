"""``cardpilot plan purchase`` on a store: the account's limit, balance and grade from the store,
the instalments already due from its ledger, the income given or declared."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from typer.testing import CliRunner

from cardpilot.cli import app
from cardpilot.cli.output import envelope_data
from cardpilot.ledger.postings import Kind, Posting, Source
from cardpilot.store.db import make_engine
from cardpilot.store.ledger import insert_postings
from cardpilot.store.models import Account, Customer

runner = CliRunner()


def _account(url: str, *, instalment_minor: int = 0) -> None:
    db = make_engine(url)
    try:
        with db.begin() as conn:
            conn.execute(
                Customer.__table__.insert(),
                [{"customer_id": "C1", "annual_income_minor": 48_000_000}],
            )
            conn.execute(
                Account.__table__.insert(),
                [
                    {
                        "account_id": "A1",
                        "customer_id": "C1",
                        "currency": "CNY",
                        "credit_limit_minor": 5_000_000,
                        "grade": "good",
                    }
                ],
            )
            if instalment_minor:
                due = dt.datetime.now(ZoneInfo("Asia/Shanghai")) + dt.timedelta(days=20)
                insert_postings(
                    conn,
                    [
                        Posting("A1", Kind.INSTALMENT_DUE, due, Source.PLAN_EVENT,
                                "p1:due:1", instalment_minor, "CNY")
                    ],
                )  # fmt: skip
    finally:
        db.dispose()


def _plan(url: str, *args: str) -> dict:
    result = runner.invoke(
        app,
        ["plan", "purchase", "A1", "--purpose", "car", "--database", url, "--json", *args],
    )
    assert result.exit_code == 0, result.output
    return dict(envelope_data(result.stdout))


def test_a_car_plan_reads_the_declared_income_and_offers_both(sqlite_store):
    _account(sqlite_store)
    out = _plan(sqlite_store, "--amount", "60000", "--months", "12")
    assert out["monthly_income"] == "40000.00"  # 480,000 a year
    assert out["available_credit"] == "50000.00"
    options = {o["product"]: o for o in out["options"]}
    assert options["instalment"]["offered"] is True
    assert options["instalment"]["quote"]["apr"] == "0.13034224"
    assert options["temporary_limit"]["offered"] is False  # 60,000 in 3 months: 50 % of income
    assert options["temporary_limit"]["temporary_limit"] == "10000.00"


def test_instalments_on_the_ledger_count_and_the_reason_is_in_words(sqlite_store):
    _account(sqlite_store, instalment_minor=1_500_000)
    out = _plan(sqlite_store, "--amount", "60000", "--months", "12", "--income", "20000")
    instalment = out["options"][0]
    assert out["existing_monthly_instalments"] == "15000.00"
    assert instalment["offered"] is False
    assert instalment["reasons"][0]["code"] == "PLAN_DEBT_TO_INCOME"
    assert "现有分期" in instalment["reasons"][0]["zh-CN"]


def test_an_unknown_purpose_names_the_known_ones(sqlite_store):
    _account(sqlite_store)
    result = runner.invoke(
        app,
        ["plan", "purchase", "A1", "--purpose", "yacht", "--amount", "1000", "--months", "3",
         "--database", sqlite_store],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "car, home_furnishing" in result.output
