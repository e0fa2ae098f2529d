"""Watch after large increases: who is watched, for how long, and which statements flag."""

from __future__ import annotations

import datetime as dt

import polars as pl
from sqlalchemy import text

from cardpilot.jobs.review import review_portfolio
from cardpilot.policy.loading import load_policy
from cardpilot.store.db import make_engine
from cardpilot.watch.checks import check_watches, watch_list
from cardpilot.watch.rules import watch_flags_frame

AS_OF = dt.date(2026, 5, 1)


def test_increases_of_at_least_the_threshold_start_a_six_month_watch(loaded_store, scorer):
    review_portfolio(loaded_store, scorer, as_of=AS_OF)
    engine = make_engine(loaded_store)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT d.action, d.old_limit_minor, d.new_limit_minor, w.id, w.ends_on"
                    " FROM limit_decisions d LEFT JOIN limit_watch w ON w.decision_id = d.id"
                )
            ).all()
    finally:
        engine.dispose()
    watched = [r for r in rows if r[3] is not None]
    assert watched
    for action, old, new, watch_id, ends_on in rows:
        large = action == "increase" and new * 100 >= old * 130
        assert (watch_id is not None) == large
        if watch_id is not None:
            assert str(ends_on)[:10] == "2026-11-01"


def test_statements_after_the_increase_are_checked_and_flagged_once(loaded_store, scorer):
    review_portfolio(loaded_store, scorer, as_of=AS_OF)
    engine = make_engine(loaded_store)
    policy = load_policy()
    try:
        first = check_watches(engine, policy, dt.date(2026, 11, 1))
        again = check_watches(engine, policy, dt.date(2026, 11, 1))
        listing = watch_list(engine, policy)
        with engine.connect() as conn:
            flags = conn.execute(
                text("SELECT rule, reason_code, cycle_date FROM watch_flags")
            ).all()
    finally:
        engine.dispose()
    assert first == len(flags) > 0
    assert again == 0
    assert {r[0] for r in flags} <= {
        "missed_payment",
        "utilisation_jump",
        "cash_advance_surge",
        "spending_spike",
    }
    assert all(
        dt.date(2026, 5, 1) <= dt.date.fromisoformat(str(r[2])[:10]) < dt.date(2026, 11, 1)
        for r in flags
    )
    flagged = listing.filter(pl.col("flags") > 0)
    assert flagged.height > 0
    assert flagged["reason_texts"].list.len().min() >= 1


def test_each_watch_rule_fires_on_its_own_signal():
    policy = load_policy()
    watches = pl.DataFrame(
        {
            "watch_id": [1, 2, 3, 4, 5],
            "account_id": ["A", "B", "C", "D", "E"],
            "started_on": [dt.date(2026, 5, 1)] * 5,
            "ends_on": [dt.date(2026, 11, 1)] * 5,
        }
    )
    rows = []
    # Before the watch: utilisation 0.2, cash 0, spend about 1,000 yuan per cycle.
    for account in "ABCDE":
        for month in (2, 3, 4):
            rows.append(
                (account, dt.date(2026, month, 28), 1_000_000, 200_000, 100_000, 100_000, 0, 0)
            )
    rows += [
        ("A", dt.date(2026, 5, 31), 1_000_000, 200_000, 0, 100_000, 0, 0),  # nothing paid
        ("B", dt.date(2026, 5, 31), 1_000_000, 700_000, 200_000, 150_000, 0, 0),  # util 0.7
        ("C", dt.date(2026, 5, 31), 1_000_000, 200_000, 200_000, 50_000, 150_000, 0),  # cash
        ("D", dt.date(2026, 5, 31), 1_000_000, 300_000, 200_000, 600_000, 0, 0),  # spend x6
        ("E", dt.date(2026, 5, 31), 1_000_000, 200_000, 200_000, 100_000, 0, 0),  # as usual
    ]
    statements = pl.DataFrame(
        rows,
        schema={
            "account_id": pl.String,
            "cycle_date": pl.Date,
            "credit_limit_minor": pl.Int64,
            "statement_balance_minor": pl.Int64,
            "amount_paid_minor": pl.Int64,
            "purchases_minor": pl.Int64,
            "cash_advances_minor": pl.Int64,
            "days_past_due": pl.Int32,
        },
        orient="row",
    )
    flags = watch_flags_frame(watches, statements, policy)
    fired = {(r["account_id"], r["rule"]) for r in flags.iter_rows(named=True)}
    assert ("A", "missed_payment") in fired
    assert ("B", "utilisation_jump") in fired
    assert ("C", "cash_advance_surge") in fired
    assert ("D", "spending_spike") in fired
    assert not any(a == "E" for a, _ in fired)
    assert set(flags["reason_code"]) <= set(policy.limits.watch.reason_codes().values())
