"""Watch flags act: each flag gets the action its rule maps to in the policy (stored once, with
the flag), a notice goes through the outbox, the next review respects a hold on increases, and
an early review decides an account again within its cycle."""

from __future__ import annotations

import copy
import datetime as dt

import polars as pl
from store_counts import count_rows, stored_decisions

from cardpilot.jobs.review import review_portfolio
from cardpilot.policy.loading import load_policy, policy_from_data, read_policy_data
from cardpilot.policy.schema import Policy
from cardpilot.store.db import make_engine
from cardpilot.store.frame_reads import query_frame
from cardpilot.store.watch_actions import read_watch_actions
from cardpilot.watch.checks import check_watches

FIRST = dt.date(2026, 5, 1)  # cycle 2026-H1; the portfolio has statements to 2026-10-31
RULES = ("missed_payment", "utilisation_jump", "cash_advance_surge", "spending_spike")


def _policy_acting(action: str) -> Policy:
    """The shipped policy with every watch rule mapped to ``action``."""
    limits, reasons = copy.deepcopy(read_policy_data())
    limits["watch_actions"].update(dict.fromkeys(RULES, action))
    return policy_from_data(limits, reasons)


def _check(url: str, policy: Policy, as_of: dt.date) -> tuple[int, pl.DataFrame]:
    engine = make_engine(url)
    try:
        added = check_watches(engine, policy, as_of)
        return added, read_watch_actions(engine)
    finally:
        engine.dispose()


def test_each_flag_gets_the_action_its_rule_maps_to_once(loaded_store, scorer):
    policy = load_policy()
    review_portfolio(loaded_store, scorer, policy=policy, as_of=FIRST)
    added, actions = _check(loaded_store, policy, dt.date(2026, 11, 1))
    again, after = _check(loaded_store, policy, dt.date(2026, 11, 1))
    assert added == actions.height == count_rows(loaded_store, "watch_flags") > 0
    assert again == 0
    assert after.height == actions.height
    mapping = policy.limits.watch_actions
    assert mapping is not None
    for row in actions.iter_rows(named=True):
        assert row["action"] == mapping.by_rule()[row["rule"]]
        assert row["policy_version"] == policy.version
        if row["action"] == "hold_increases":
            months = (row["hold_until"].year - row["flag_cycle_date"].year) * 12 + (
                row["hold_until"].month - row["flag_cycle_date"].month
            )
            assert months == mapping.hold_months
        else:
            assert row["hold_until"] is None


def test_a_notice_action_queues_its_message_in_the_outbox_once(loaded_store, scorer):
    policy = _policy_acting("notice")
    review_portfolio(loaded_store, scorer, policy=policy, as_of=FIRST)
    _, actions = _check(loaded_store, policy, dt.date(2026, 11, 1))
    _check(loaded_store, policy, dt.date(2026, 11, 1))
    engine = make_engine(loaded_store)
    try:
        with engine.connect() as conn:
            queued = query_frame(
                conn,
                "SELECT decision_ref, channel, body_text FROM notify_outbox"
                " WHERE message_type = 'watch_notice'",
                {},
                {"decision_ref": pl.String(), "channel": pl.String(), "body_text": pl.String()},
            )
    finally:
        engine.dispose()
    assert actions.height > 0
    assert (actions["action"] == "notice").all()
    refs = set(queued["decision_ref"])
    assert refs <= {f"watch_action:{i}" for i in actions["id"]}
    assert len(refs) > 0
    assert queued.height == queued.select("decision_ref", "channel").n_unique()


def test_a_case_action_opens_a_case_on_the_watched_increase_once(loaded_store, scorer):
    policy = _policy_acting("analyst_case")
    review_portfolio(loaded_store, scorer, policy=policy, as_of=FIRST)
    _check(loaded_store, policy, dt.date(2026, 11, 1))
    _, actions = _check(loaded_store, policy, dt.date(2026, 11, 1))
    engine = make_engine(loaded_store)
    try:
        with engine.connect() as conn:
            cases = query_frame(
                conn,
                "SELECT c.id, c.account_id, c.requested_by, c.status, w.decision_id, c.decision_id"
                " FROM review_cases c JOIN watch_actions a ON a.case_id = c.id"
                " JOIN limit_watch w ON w.id = a.watch_id",
                {},
                {
                    "id": pl.Int64(),
                    "account_id": pl.String(),
                    "requested_by": pl.String(),
                    "status": pl.String(),
                    "watched_decision": pl.Int64(),
                    "decision_id": pl.Int64(),
                },
            )
    finally:
        engine.dispose()
    assert actions.height > 0
    assert cases.height == actions.height == count_rows(loaded_store, "review_cases")
    assert (cases["requested_by"] == "watch").all()
    assert (cases["status"] == "open").all()
    assert (cases["watched_decision"] == cases["decision_id"]).all()
    assert count_rows(loaded_store, "audit_log") >= cases.height


def test_the_next_review_respects_a_hold_on_increases(loaded_store, scorer):
    policy = _policy_acting("hold_increases")
    next_review = dt.date(2026, 11, 1)
    review_portfolio(loaded_store, scorer, policy=policy, as_of=FIRST)
    _, actions = _check(loaded_store, policy, next_review)
    held = actions.filter(pl.col("hold_until") > next_review)["account_id"].unique()
    review_portfolio(loaded_store, scorer, policy=policy, as_of=next_review)
    decided = stored_decisions(loaded_store).filter(pl.col("cycle_id") == "2026-H2")
    held_decisions = decided.filter(pl.col("account_id").is_in(held.implode()))
    assert held_decisions.height == held.len() > 0
    assert (held_decisions["action"] != "increase").all()
    on_hold = held_decisions.filter(pl.col("reason_codes").list.first() == "KEEP_WATCH_HOLD")
    assert on_hold.height > 0
    others = decided.filter(~pl.col("account_id").is_in(held.implode()))
    assert "KEEP_WATCH_HOLD" not in set(others["reason_codes"].explode())


def test_an_early_review_decides_an_account_again_within_its_cycle(loaded_store, scorer):
    policy = _policy_acting("early_review")
    within = dt.date(2026, 6, 30)  # still 2026-H1: statements of 2026-05-31 and 2026-06-30
    review_portfolio(loaded_store, scorer, policy=policy, as_of=FIRST)
    _, actions = _check(loaded_store, policy, within)
    early = set(actions["account_id"])
    again = review_portfolio(loaded_store, scorer, policy=policy, as_of=within)
    once_more = review_portfolio(loaded_store, scorer, policy=policy, as_of=within)
    assert len(early) > 0
    assert again.cycle_id == "2026-H1"
    assert again.decided == again.early_reviews == len(early)
    decisions = stored_decisions(loaded_store)
    assert set(decisions.filter(pl.col("cycle_id") == "2026-H1-early")["account_id"]) == early
    assert once_more.decided == 0
    assert once_more.skipped_within_cycle == again.skipped_within_cycle + len(early)
