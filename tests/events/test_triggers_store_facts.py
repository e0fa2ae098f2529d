"""The consumer's rules ask the store only for what can change their outcome: an account with
no score and no limit increase is judged on its own rows (its status, customer and currency
read only where some rule holds on them), and the outcome is the one every account's stored
facts and whole history give."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session

from cardpilot.store.models import Account, LimitChange
from cardpilot.store.warning_interventions import history_of, insert_scores, online_inputs
from cardpilot.stream.triggers import (
    evaluate_triggers,
    fired_for_events,
    holding_without_facts,
    trigger_frame,
)
from cardpilot.warning.policy import load_warning_policy
from cardpilot.warning.state import FACTS_SCHEMA, facts_frame, with_store_facts
from cardpilot.warning.triggers import holding_rules

from .replay_support import account_store

WARNING = load_warning_policy()
TZ = ZoneInfo("Asia/Shanghai")
DAY = dt.date(2026, 11, 10)
NOW = dt.datetime(2026, 11, 10, 12, tzinfo=dt.UTC)
# S1 scores high, S2 low, R1 had its limit raised, N1 and N2 nothing (N2's spending spikes),
# X1 scores high but is closed.
ACCOUNTS = ("N1", "N2", "R1", "S1", "S2", "X1")


def _store(url: str) -> Engine:
    engine = account_store(url, ACCOUNTS)
    with Session(engine) as session, session.begin():
        session.execute(update(Account).where(Account.account_id == "X1").values(status="closed"))
        session.execute(
            LimitChange.__table__.insert(),
            [
                {
                    "account_id": "R1",
                    "effective_at": dt.datetime(2026, 11, 2, 10, tzinfo=TZ),
                    "old_limit_minor": 500_000,
                    "new_limit_minor": 1_000_000,
                    "source": "review",
                },
                {
                    "account_id": "N1",
                    "effective_at": dt.datetime(2026, 1, 2, 10, tzinfo=TZ),
                    "old_limit_minor": None,
                    "new_limit_minor": 1_000_000,
                    "source": "import",
                },
            ],
        )
    scores = [
        {
            "account_id": a,
            "as_of": dt.date(2026, 10, 31),
            "customer_id": f"C{a}",
            "score": score,
            "score_change": 0.0,
            "reason_codes": ["RC_EW_PAYMENT_DROP"],
            "model_version": "test",
            "policy_version": "test",
        }
        for a, score in (("S1", 0.6), ("S2", 0.1), ("X1", 0.6))
    ]
    with engine.begin() as conn:
        insert_scores(conn, scores)
    return engine


def _row(account: str, **figures: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "as_of": DAY,
        "account_id": account,
        "currency": "CNY",
        "cycle_date": dt.date(2026, 11, 1),
        "due_date": dt.date(2026, 11, 21),
        "statement_balance_minor": 300_000,
        "minimum_due_minor": 30_000,
        "unpaid_minimum_minor": 30_000,
        "utilisation": 0.3,
        "spend_to_6m_average": 1.0,
        "days_since_cash_advance": None,
    }
    return {**row, **figures}


def _rows() -> pl.DataFrame:
    return trigger_frame(
        [
            _row("N1"),
            _row("N2", utilisation=0.9, spend_to_6m_average=4.0),
            _row("R1", days_since_cash_advance=3),
            _row("S1"),
            _row("S2"),
            _row("X1", utilisation=0.9, spend_to_6m_average=4.0),
        ]
    )


def test_the_rules_fire_as_every_accounts_stored_facts_and_history_give(store_url: str) -> None:
    engine = _store(store_url)
    try:
        frame = _rows()
        accounts = sorted(ACCOUNTS)
        with engine.begin() as conn:
            every = facts_frame(online_inputs(conn, accounts, DAY, TZ))
            expected = fired_for_events(
                with_store_facts(frame, every), WARNING, history_of(conn, accounts, DAY)
            )
            fired = evaluate_triggers(conn, frame, WARNING, NOW)
        assert fired.sort("decision_ref").equals(expected.sort("decision_ref"))
        by_account = fired.group_by("account_id").agg(pl.col("rule").sort())
        assert dict(by_account.iter_rows()) == {
            "N2": ["spend_spike_high_use"],
            "R1": ["cash_after_increase"],
            "S1": ["high_score", "very_high_score"],
        }
    finally:
        engine.dispose()


def test_the_store_gives_only_accounts_with_a_score_an_increase_or_asked_for(
    store_url: str,
) -> None:
    engine = _store(store_url)
    try:
        with engine.connect() as conn:
            every = online_inputs(conn, ACCOUNTS, DAY, TZ)
            known = online_inputs(conn, ACCOUNTS, DAY, TZ, known_only=True, also=["N2"])
        assert set(every) == set(ACCOUNTS)
        assert sorted(known) == ["N2", "R1", "S1", "S2", "X1"]
        assert known == {a: every[a] for a in known}
        assert every["R1"]["increased_on"] == dt.date(2026, 11, 2)
        assert "increased_on" not in every["N1"]  # an import's first limit is no increase
        assert "score" not in every["N2"]
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_the_store_facts_are_read_without_compiling_the_plan(postgres_store_url: str) -> None:
    engine = _store(postgres_store_url)
    jit = "SELECT current_setting('jit')"
    try:
        with engine.connect() as conn:
            server = conn.exec_driver_sql(jit).scalar()
        with engine.begin() as conn:
            online_inputs(conn, ACCOUNTS, DAY, TZ, known_only=True)
            assert conn.exec_driver_sql(jit).scalar() == "off"
        with engine.connect() as conn:  # for the caller's transaction only
            assert conn.exec_driver_sql(jit).scalar() == server
    finally:
        engine.dispose()


_maybe_int = st.one_of(st.none(), st.integers(min_value=-5, max_value=600_000))
_maybe_ratio = st.one_of(st.none(), st.floats(min_value=0, max_value=6, allow_nan=False))
_rows_strategy = st.lists(
    st.builds(
        lambda account, day, due, unpaid, balance, use, spend, cash: _row(
            account,
            as_of=None if day is None else DAY + dt.timedelta(days=day),
            due_date=None if due is None else DAY + dt.timedelta(days=due),
            unpaid_minimum_minor=unpaid,
            statement_balance_minor=balance,
            utilisation=use,
            spend_to_6m_average=spend,
            days_since_cash_advance=cash,
        ),
        st.sampled_from(("A", "B", "C")),
        st.one_of(st.none(), st.integers(min_value=0, max_value=5)),
        st.one_of(st.none(), st.integers(min_value=-4, max_value=4)),
        _maybe_int,
        _maybe_int,
        _maybe_ratio,
        _maybe_ratio,
        st.one_of(st.none(), st.integers(min_value=0, max_value=40)),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=150, deadline=None)
@given(_rows_strategy)
def test_bare_rows_hold_a_rule_where_the_facts_of_an_open_account_would(
    rows: list[dict[str, Any]],
) -> None:
    frame = trigger_frame(rows)
    accounts = frame.get_column("account_id").unique().to_list()
    bare = pl.DataFrame({"account_id": accounts, "status": ["active"] * len(accounts)}).select(
        (pl.col(c) if c in ("account_id", "status") else pl.lit(None)).cast(t).alias(c)
        for c, t in FACTS_SCHEMA.items()
    )
    known = with_store_facts(frame, bare)
    hit = holding_rules(known, WARNING).get_column("rules").list.len() > 0
    expected = sorted(set(known.get_column("account_id").filter(hit).to_list()))
    assert holding_without_facts(frame, WARNING) == expected
