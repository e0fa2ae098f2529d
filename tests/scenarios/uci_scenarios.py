"""What the real-data scenarios share: the fixtures' files and dates, and the helpers that
run the CLI, count rows, pay and read a treatment (tests/scenarios/conftest.py runs them)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from sqlalchemy import text
from typer.testing import CliRunner

from cardpilot.cli.output import envelope_data

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
MODEL = FIXTURES / "models" / "uci-scorecard"
FIXTURE_POLICY = FIXTURES / "policies" / "uci-twd-2026.11"
SHIPPED_POLICY = ROOT / "src" / "cardpilot" / "policies" / "uci-twd"
FURTHER_CYCLE = FIXTURES / "uci-further-cycle"
FIRST = dt.date(2005, 10, 1)
RETREAT = dt.date(2005, 12, 5)
BROKEN_ON = dt.date(2006, 1, 6)
PAID_EARLY = dt.timedelta(days=7)  # each instalment paid a week before it is due
WATCH_REVIEW = dt.date(2005, 7, 1)
WATCH_CHECK = dt.date(2005, 10, 1)


def run_cli(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    result = CliRunner().invoke(app_of_cli(), [*args, "--json"], env=env)
    assert result.exit_code == 0, (args, result.output)
    payload: dict[str, Any] = envelope_data(result.stdout)
    return payload


def app_of_cli() -> Any:
    from cardpilot.cli import app

    return app


def review_at(as_of: str, url: str, env: dict[str, str]) -> dict[str, Any]:
    args = ["review", "--as-of", as_of, "--model", str(MODEL), "--policy", str(FIXTURE_POLICY)]
    return run_cli([*args, "--database", url], env)


def count_rows(url: str, table: str) -> int:
    from cardpilot.store.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one())
    finally:
        engine.dispose()


def pay(db: Any, account: str, when: dt.date, amount: int, tid: str) -> None:
    with db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO transactions (transaction_id, account_id, posted_at, kind,"
                " amount_minor, currency) VALUES (:t, :a, :p, 'payment', :m, 'TWD')"
            ),
            {
                "t": tid,
                "a": account,
                "p": dt.datetime.combine(when, dt.time(4), tzinfo=dt.UTC),
                "m": amount,
            },
        )


def treatment_of(db: Any, account: str, as_of: dt.date) -> Any:
    with db.connect() as conn:
        return conn.execute(
            text(
                "SELECT id, risk_segment, overdue_balance_minor, penalty_interest_minor,"
                " late_fee_minor, fee_waived_minor, limit_action FROM overdue_treatments"
                " WHERE account_id = :a AND as_of = :d"
            ),
            {"a": account, "d": as_of},
        ).first()


def pay_instalments(db: Any, plan: Any, count: int) -> int:
    paid = 0
    for n, inst in enumerate(plan.instalments[:count]):
        due = dt.date.fromisoformat(inst["due_date"])
        pay(db, plan.account_id, due - PAID_EARLY, inst["amount_minor"], f"{plan.account_id}-T{n}")
        paid += inst["amount_minor"]
    return paid
