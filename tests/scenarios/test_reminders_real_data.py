"""Reminders on the real UCI data (NT$ policy variant): the September 2005 statement is due on
2005-10-20; the file has no minimum due and no payments after September, so every account with
a positive September balance not already past due is reminded five days before, once, and
opted-in customers get the exact minimum-payment illustration the day after the statement
(nobody told on 2005-10-21 that a payment was missed is a case of
``test_account_over_time.py``). Skipped when ../shared/data is
absent."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from cardpilot.jobs.reminders import record_opt_ins, send_reminders
from cardpilot.overdue.loading import load_overdue_policy
from cardpilot.overdue.reminders import minimum_payment_cost
from cardpilot.store.db import make_engine

ROOT = Path(__file__).resolve().parents[2]
POLICY = load_overdue_policy(ROOT / "src" / "cardpilot" / "policies" / "uci-twd")
SEPTEMBER = dt.date(2005, 9, 30)

pytestmark = [pytest.mark.realdata, pytest.mark.slow]


def _scalar(url: str, sql: str) -> Any:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql)).scalar_one()
    finally:
        engine.dispose()


def _scalar_row(url: str, sql: str) -> tuple[Any, ...]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return tuple(conn.execute(text(sql)).one())
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def uci_store(uci_store_copy: Any) -> str:
    url, _home = uci_store_copy("uci-reminders")
    return str(url)


def test_every_positive_september_balance_not_past_due_is_reminded_once_before_the_due_date(
    uci_store: str,
) -> None:
    positive, current = _scalar_row(
        uci_store,
        "SELECT COUNT(*), SUM(CASE WHEN days_past_due = 0 THEN 1 ELSE 0 END) FROM statements"
        " WHERE cycle_date = '2005-09-30' AND statement_balance_minor > 0",
    )
    # 5,129 of the 27,402 positive balances are already past due (PAY_0 ≥ 1): "pay before the
    # due date to avoid an overdue record" would be false for them.
    assert (positive, current) == (27_402, 22_273)
    first = send_reminders(uci_store, as_of=dt.date(2005, 10, 15), policy=POLICY)
    assert first.by_rule == {"before_due_5": current}
    assert first.queued == current  # in-app only: the UCI file has no phone or e-mail
    again = send_reminders(uci_store, as_of=dt.date(2005, 10, 15), policy=POLICY)
    assert (again.queued, again.already_queued) == (0, current)
    body = _scalar(
        uci_store,
        "SELECT body_text FROM notify_outbox WHERE decision_ref LIKE 'reminder:before_due_5:%'"
        " ORDER BY id LIMIT 1",
    )
    assert "新台币" in body
    assert "2005年10月20日" in body


def test_opted_in_uci_customers_get_the_exact_minimum_payment_illustration(
    uci_store: str,
) -> None:
    customers = [f"C{i}" for i in range(1, 201)]
    record_opt_ins(uci_store, customers, source="test")
    result = send_reminders(uci_store, as_of=SEPTEMBER + dt.timedelta(days=1), policy=POLICY)
    reminders = POLICY.file.reminders
    assert reminders is not None
    eligible = _scalar(
        uci_store,
        "SELECT COUNT(*) FROM statements s JOIN accounts a ON a.account_id = s.account_id"
        " WHERE s.cycle_date = '2005-09-30' AND a.customer_id IN ("
        + ", ".join(f"'{c}'" for c in customers)
        + f") AND s.statement_balance_minor >= {reminders.education[0].min_balance_yuan}",
    )
    assert result.by_rule.get("edu_minimum_payment") == eligible > 0
    engine = make_engine(uci_store)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT s.statement_balance_minor, o.body_text FROM notify_outbox o"
                    " JOIN statements s ON s.account_id = o.account_id"
                    " AND s.cycle_date = '2005-09-30'"
                    " WHERE o.message_type = 'education_minimum_payment' AND o.locale = 'zh-CN'"
                )
            ).all()
    finally:
        engine.dispose()
    assert len(rows) == eligible
    for balance, body in rows:
        cost = minimum_payment_cost(int(balance), reminders.minimum_payment, reminders.revolving)
        interest = f"{cost.total_interest_minor // 100}.{cost.total_interest_minor % 100:02d}"
        assert f"共付利息新台币{interest}元" in body
        assert re.search(rf"需要{cost.months}个月", body)
