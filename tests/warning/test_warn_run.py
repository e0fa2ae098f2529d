"""``warn run`` over a hand-made store (SQLite and PostgreSQL): each account's interventions,
their reasons and advice in the customer's own figures, the outbox, the score change between
runs, the hold the review reads, nothing for an account already past due, and a re-run that
stores and queues nothing twice."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text

from cardpilot.domain.plans import quote_plan
from cardpilot.jobs.warning import run_warning
from cardpilot.store.db import make_engine, open_store, unit_of_work
from cardpilot.store.frame_reads import query_frame
from cardpilot.store.models import Account, Customer, LimitChange, Statement, Transaction
from cardpilot.store.payments import Payment, insert_payments
from cardpilot.store.watch_actions import HOLDS_IN_RANGE
from support.scorers import WARNING_SCORER_VERSION, warning_scorer

LATEST = dt.date(2026, 2, 28)
DUE = dt.date(2026, 3, 20)
AS_OF = dt.date(2026, 3, 18)  # two days before the due date
CYCLES = (
    dt.date(2025, 9, 30),
    dt.date(2025, 10, 31),
    dt.date(2025, 11, 30),
    dt.date(2025, 12, 31),
    dt.date(2026, 1, 31),
    LATEST,
)
BALANCE = 300_000  # 3,000.00 yuan
MINIMUM = 30_000
LIMIT = 1_000_000
NOW = dt.datetime(2026, 3, 18, 2, 0, tzinfo=dt.UTC)  # 10:00 in Shanghai

PDS = {
    "w1-high": 0.40,  # paid the minimum: a warning only
    "w2-near-due": 0.32,  # unpaid two days before the due date: an instalment offer
    "w3-overdue": 0.90,  # already past due: nothing, whatever its score
    "w4-very-high": 0.60,  # near due, very high, high: the cap keeps two
    "w5-quiet": 0.05,
    "w6-cash": 0.05,  # a cash advance ten days after an increase: a hold
}


def build_store(url: str) -> str:
    engine = open_store(url)
    with unit_of_work(engine) as s:
        for acc in PDS:
            s.add(Customer(customer_id=f"c-{acc}", locale="zh-CN"))
        s.flush()
        for acc in PDS:
            s.add(Account(account_id=acc, customer_id=f"c-{acc}", credit_limit_minor=LIMIT))
        s.flush()
        for acc in PDS:
            for cycle in CYCLES:
                late = acc == "w3-overdue" and cycle == LATEST
                s.add(
                    Statement(
                        account_id=acc,
                        cycle_date=cycle,
                        due_date=cycle + dt.timedelta(days=20),
                        credit_limit_minor=LIMIT,
                        statement_balance_minor=BALANCE,
                        minimum_due_minor=MINIMUM,
                        amount_paid_minor=MINIMUM,
                        repayment_status=1 if late else 0,
                        days_past_due=30 if late else 0,
                    )
                )
        s.add(
            LimitChange(
                account_id="w6-cash",
                effective_at=dt.datetime(2026, 2, 10, 2, 0, tzinfo=dt.UTC),
                old_limit_minor=800_000,
                new_limit_minor=LIMIT,
                source="review",
            )
        )
        s.add(
            Transaction(
                transaction_id="ca-w6",
                account_id="w6-cash",
                posted_at=dt.datetime(2026, 2, 20, 4, 0, tzinfo=dt.UTC),
                kind="cash_advance",
                amount_minor=100_000,
                currency="CNY",
            )
        )
    paid = dt.datetime(2026, 3, 5, 4, 0, tzinfo=dt.UTC)  # noon in Shanghai
    insert_payments(engine, [Payment("pay-w1", "w1-high", paid, MINIMUM, "CNY")])
    engine.dispose()
    return url


@pytest.fixture
def warn_store(store_url: str) -> str:
    return build_store(store_url)


def run(url: str, pds: dict[str, float] = PDS, as_of: dt.date = AS_OF) -> Any:
    return run_warning(
        url, as_of=as_of, model=warning_scorer(pds), now=NOW, timezone="Asia/Shanghai"
    )


def interventions(url: str) -> dict[tuple[str, str], dict[str, Any]]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT * FROM warning_interventions")).mappings().all()
    finally:
        engine.dispose()
    return {(r["account_id"], r["rule"]): dict(r) for r in rows}


def scalar(url: str, sql: str) -> Any:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql)).scalar_one()
    finally:
        engine.dispose()


def test_each_account_gets_the_interventions_its_rules_and_the_cap_give(warn_store: str) -> None:
    result = run(warn_store)
    assert (result.accounts, result.current, result.scored) == (6, 5, 5)
    assert result.by_rule == {
        "cash_after_increase": 1,
        "high_score": 1,
        "unpaid_near_due": 2,
        "very_high_score": 1,
    }
    assert set(interventions(warn_store)) == {
        ("w1-high", "high_score"),
        ("w2-near-due", "unpaid_near_due"),
        ("w4-very-high", "unpaid_near_due"),
        ("w4-very-high", "very_high_score"),
        ("w6-cash", "cash_after_increase"),
    }
    # in-app only: these customers have no phone or e-mail on file
    assert (result.queued, result.holds) == (4, 1)
    assert scalar(warn_store, "SELECT COUNT(*) FROM notify_outbox") == 4


def test_no_score_and_no_intervention_for_an_account_already_past_due(warn_store: str) -> None:
    run(warn_store)
    assert not [k for k in interventions(warn_store) if k[0] == "w3-overdue"]
    sql = "SELECT COUNT(*) FROM warning_scores WHERE account_id = 'w3-overdue'"
    assert scalar(warn_store, sql) == 0
    assert scalar(warn_store, "SELECT COUNT(*) FROM warning_scores") == 5


def test_the_instalment_offer_quotes_the_customers_own_figures(warn_store: str) -> None:
    run(warn_store)
    row = interventions(warn_store)[("w2-near-due", "unpaid_near_due")]
    advice = json.loads(row["advice"])
    quote = quote_plan("equal_principal", BALANCE, 12, Decimal("0.006"), DUE)
    assert advice == {
        "currency": "CNY",
        "statement_balance_minor": BALANCE,
        "minimum_due_minor": MINIMUM,
        "unpaid_minimum_minor": MINIMUM,
        "due_date": "2026-03-20",
        # (3,000.00 - 300.00) at 0.05 % a day for 30 days
        "interest_saved_minor": 4_050,
        "plan": {
            "kind": "equal_principal",
            "months": 12,
            "defer_months": 0,
            "monthly_payment_minor": quote.payments[0].total_minor,
            "total_fee_minor": quote.total_fee_minor,
            "apr": str(quote.apr),
        },
    }
    assert quote.payments[0].total_minor == 26_800  # 250.00 principal + 18.00 fee
    reasons = json.loads(row["reasons"])
    assert [r["code"] for r in reasons] == [
        "EW_UNPAID_NEAR_DUE",
        "RC_EW_PAYMENT_DROP",
        "RC_EW_BALANCE_RISING",
    ]
    assert reasons[0]["zh-CN"].startswith("距到期还款日不足两天")
    assert reasons[0]["en"] == "The minimum payment is still unpaid two days before the due date"
    assert row["policy_version"].startswith("2026.12-warning-1+")
    assert row["model_version"] == WARNING_SCORER_VERSION
    body = scalar(
        warn_store,
        "SELECT body_text FROM notify_outbox WHERE account_id = 'w2-near-due'",
    )
    assert "最低还款额：人民币300.00元" in body
    assert "2026年3月20日" in body
    assert "可免下期循环利息约人民币40.50元" in body
    assert "12期分期：首期还款人民币268.00元" in body
    assert f"年化利率{(quote.apr * 100).quantize(Decimal('0.01'))}%" in body


def test_the_deferral_offer_and_a_hold_on_increases_the_review_reads(warn_store: str) -> None:
    run(warn_store)
    found = interventions(warn_store)
    plan = json.loads(found[("w4-very-high", "very_high_score")]["advice"])["plan"]
    assert (plan["kind"], plan["months"], plan["defer_months"]) == ("deferral", 6, 1)
    assert plan["monthly_payment_minor"] == BALANCE // 6
    hold = found[("w6-cash", "cash_after_increase")]
    assert hold["advice"] is None
    assert str(hold["hold_until"])[:10] == "2026-09-14"  # 180 days
    engine = make_engine(warn_store)
    with engine.connect() as conn:
        import polars as pl

        holds = query_frame(
            conn,
            HOLDS_IN_RANGE,
            {"lo": "w6-cash", "hi": "w6-cash"},
            {"account_id": pl.String(), "increase_hold_until": pl.Date()},
        )
    engine.dispose()
    assert holds.to_dicts() == [
        {"account_id": "w6-cash", "increase_hold_until": dt.date(2026, 9, 14)}
    ]


def test_a_rerun_stores_and_queues_nothing_twice(warn_store: str) -> None:
    first = run(warn_store)
    again = run(warn_store)
    assert (again.interventions, again.stored, again.already_stored) == (5, 0, 5)
    assert (again.queued, again.already_queued) == (0, first.queued)
    assert scalar(warn_store, "SELECT COUNT(*) FROM warning_interventions") == 5
    assert scalar(warn_store, "SELECT COUNT(*) FROM notify_outbox") == first.queued
    assert scalar(warn_store, "SELECT COUNT(*) FROM warning_scores") == 5
    # one audit record per run; the day's interventions are the same, so is their digest
    runs = "SELECT payload FROM audit_log WHERE action = 'warning.run' ORDER BY seq"
    engine = make_engine(warn_store)
    with engine.connect() as conn:
        payloads = [json.loads(p) for p in conn.execute(text(runs)).scalars()]
    engine.dispose()
    assert [p["stored"] for p in payloads] == [5, 0]
    assert payloads[0]["interventions_digest"] == payloads[1]["interventions_digest"]


def test_a_score_that_rose_since_the_last_run_brings_a_counselling_offer(warn_store: str) -> None:
    earlier = AS_OF - dt.timedelta(days=8)  # ten days before the due date: not near due
    run(warn_store, as_of=earlier)
    later = run(warn_store, {**PDS, "w5-quiet": 0.29})  # below the near-due offer's 0.30
    row = interventions(warn_store)[("w5-quiet", "score_rising")]
    assert row["intervention"] == "counselling_offer"
    assert row["score_change"] == pytest.approx(0.24)
    # the first run's interventions are the same ones on the same statement: w4's two
    # contacts of the cycle (very high, high) leave no room under the cap for the near-due offer
    assert later.by_rule == {
        "cash_after_increase": 1,
        "high_score": 2,
        "score_rising": 1,
        "unpaid_near_due": 1,
        "very_high_score": 1,
    }
    assert later.stored == 2  # w2's offer and w5's counselling
