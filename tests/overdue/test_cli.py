"""``cardpilot plan quote`` and ``cardpilot aging`` end to end (SQLite store)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

import cardpilot.cli.aging
import cardpilot.cli.plan  # noqa: F401 - registers the commands on app
from cardpilot.cli import app
from cardpilot.cli.output import envelope_data
from cardpilot.store.db import open_store, unit_of_work
from cardpilot.store.models import Account, Customer, Statement
from cardpilot.store.overdue_models import AgingSnapshot

runner = CliRunner()


def test_plan_quote_12000_over_12_months_at_0_6_percent():
    result = runner.invoke(
        app,
        [
            "plan", "quote", "--principal", "12000", "--months", "12",
            "--monthly-fee-rate", "0.006", "--start", "2026-01-31", "--json",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    out = envelope_data(result.stdout)
    assert [p["total"] for p in out["payments"]] == ["1072.00"] * 12
    assert out["total_fee"] == "864.00"
    assert out["currency"] == "CNY"
    assert sum(Decimal(p["principal"]) for p in out["payments"]) == Decimal("12000.00")
    assert abs(Decimal(out["apr"]) - Decimal(out["irr_monthly"]) * 12) < Decimal("0.0005")
    assert Decimal(out["apr"]).quantize(Decimal("0.0001")) == Decimal("0.1303")
    assert out["payments"][0] == {
        "n": 1, "due_date": "2026-02-28", "principal": "1000.00", "fee": "72.00", "total": "1072.00"
    }  # fmt: skip


@pytest.mark.usefixtures("english")
def test_plan_quote_refuses_more_than_sixty_months_and_ineligible_segments():
    over = runner.invoke(app, ["plan", "quote", "--principal", "1000", "--months", "61"])
    assert over.exit_code == 2
    assert "60" in over.output
    high = runner.invoke(
        app,
        ["plan", "quote", "--principal", "1000", "--months", "6", "--segment", "high_risk"],
    )
    assert high.exit_code == 2
    assert "not eligible" in high.output


@pytest.fixture
def store(store_url: str) -> str:
    url = store_url
    engine = open_store(url)
    cycles = [dt.date(2005, 8, 31), dt.date(2005, 9, 30)]
    dpds = {"a": (0, 30), "b": (30, 60), "c": (30, 0), "d": (0, 0)}
    with unit_of_work(engine) as s:
        for acc, (d1, d2) in dpds.items():
            s.add(Customer(customer_id=f"c{acc}"))
            s.flush()
            s.add(Account(account_id=acc, customer_id=f"c{acc}", credit_limit_minor=1_000_000))
            s.flush()
            for day, dpd in zip(cycles, (d1, d2), strict=True):
                s.add(
                    Statement(
                        account_id=acc,
                        cycle_date=day,
                        statement_balance_minor=50_000,
                        amount_paid_minor=0,
                        days_past_due=dpd,
                    )
                )
    engine.dispose()
    return url


def test_aging_reports_buckets_and_roll_rates_and_stores_snapshots_idempotently(store):
    args = ["aging", "--as-of", "2005-09-30", "--database", store, "--json"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    out = envelope_data(first.stdout)
    buckets = {b["bucket"]: b for b in out["buckets"]}
    assert (buckets["current"]["accounts"], buckets["M1"]["accounts"]) == (2, 1)
    assert buckets["M2"]["overdue_balance"] == "500.00"
    forward = {(r["from"], r["to"]): r["rate"] for r in out["roll_rates"]["forward"]}
    cures = {(r["from"], r["to"]): r["rate"] for r in out["roll_rates"]["cures"]}
    assert forward[("current", "M1")] == "0.500000"
    assert forward[("M1", "M2")] == "0.500000"
    assert cures[("M1", "current")] == "0.500000"
    assert runner.invoke(app, args).exit_code == 0  # a re-run replaces, never duplicates
    engine = open_store(store)
    with engine.connect() as conn:
        rows = conn.execute(select(func.count()).select_from(AgingSnapshot)).scalar_one()
    engine.dispose()
    assert rows == 8  # 4 accounts × 2 cycle dates


def test_aging_between_cycles_stores_a_daily_snapshot(store):
    result = runner.invoke(app, ["aging", "--as-of", "2005-10-10", "--database", store, "--json"])
    assert result.exit_code == 0, result.output
    out = envelope_data(result.stdout)
    assert out["snapshots"][-1] == "2005-10-10"
    buckets = {b["bucket"]: b["accounts"] for b in out["buckets"]}
    assert buckets["M2"] == 1  # 30 dpd on 09-30 → 40 dpd on 10-10
    assert buckets["M3"] == 1  # 60 → 70
    assert out["roll_rates"]["from"] == "2005-08-31"
