"""The early-warning triggers of the shipped warning.yaml: each rule fires on a constructed
account and not on its near miss; cool-downs, the contact cap, current accounts only, and the
same decision for one account as for a frame."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
import pytest

from cardpilot.warning.policy import load_warning_policy
from cardpilot.warning.triggers import (
    conform,
    decide,
    decision_ref,
    evaluate_account,
    holding_rules,
)

POLICY = load_warning_policy()
AS_OF = dt.date(2026, 3, 18)
CYCLE = dt.date(2026, 2, 28)

# An account that fires nothing: current, low score, nothing unusual.
QUIET: dict[str, Any] = {
    "account_id": "A0001",
    "customer_id": "C0001",
    "currency": "CNY",
    "cycle_date": CYCLE,
    "due_date": dt.date(2026, 3, 25),
    "days_past_due": 0,
    "score": 0.05,
    "score_change": 0.0,
    "statement_balance_minor": 300_000,
    "minimum_due_minor": 30_000,
    "unpaid_minimum_minor": 30_000,
    "utilisation": 0.3,
    "spend_to_6m_average": 1.0,
    "model_version": "warning-gbm-test",
    "reason_codes": ["RC_EW_PAYMENT_DROP", "RC_EW_BALANCE_RISING"],
}


def rules_for(state: dict[str, Any], history: list[dict[str, Any]] | None = None) -> list[str]:
    return sorted(r["rule"] for r in evaluate_account(state, POLICY, AS_OF, history or []))


def test_a_quiet_account_fires_nothing() -> None:
    assert rules_for(QUIET) == []


@pytest.mark.parametrize(
    ("rule", "fires", "near_miss"),
    [
        (
            "unpaid_near_due",
            {"score": 0.31, "due_date": AS_OF + dt.timedelta(days=2)},
            {"score": 0.31, "due_date": AS_OF + dt.timedelta(days=3)},
        ),
        (
            "cash_after_increase",
            {"days_since_limit_increase": 40, "cash_advance_days_after_increase": 30},
            {"days_since_limit_increase": 40, "cash_advance_days_after_increase": 31},
        ),
        ("very_high_score", {"score": 0.55}, {"score": 0.55, "unpaid_minimum_minor": 0}),
        (
            "score_rising",
            {"score": 0.26, "score_change": 0.10},
            {"score": 0.26, "score_change": 0.09},
        ),
        (
            "spend_spike_high_use",
            {"spend_to_6m_average": 3.0, "utilisation": 0.8},
            {"spend_to_6m_average": 3.0, "utilisation": 0.79},
        ),
        ("high_score", {"score": 0.35}, {"score": 0.349}),
    ],
)
def test_each_rule_fires_on_its_account_and_not_on_the_near_miss(
    rule: str, fires: dict[str, Any], near_miss: dict[str, Any]
) -> None:
    assert rule in rules_for({**QUIET, **fires})
    assert rule not in rules_for({**QUIET, **near_miss})


def test_a_payment_made_two_days_before_the_due_date_stops_the_near_due_offer() -> None:
    near = {**QUIET, "score": 0.31, "due_date": AS_OF + dt.timedelta(days=2)}
    assert "unpaid_near_due" in rules_for(near)
    assert "unpaid_near_due" not in rules_for({**near, "unpaid_minimum_minor": 0})
    # a balance below the plan's minimum principal (500 yuan) gets no instalment offer
    assert "unpaid_near_due" not in rules_for({**near, "statement_balance_minor": 49_999})


def test_no_rule_fires_for_an_account_already_past_due() -> None:
    loud = {**QUIET, "score": 0.9, "due_date": AS_OF, "spend_to_6m_average": 5.0}
    assert rules_for(loud)
    assert rules_for({**loud, "days_past_due": 1}) == []


def test_an_unknown_value_is_not_evidence() -> None:
    assert rules_for({"account_id": "A9"}) == []
    assert "score_rising" not in rules_for({**QUIET, "score": 0.5, "score_change": None})


def test_the_intervention_carries_its_rule_reason_then_the_models_and_its_versions() -> None:
    [row] = evaluate_account({**QUIET, "score": 0.4}, POLICY, AS_OF)
    assert row["rule"] == "high_score"
    assert row["reason_codes"] == ["EW_HIGH_SCORE", "RC_EW_PAYMENT_DROP", "RC_EW_BALANCE_RISING"]
    assert row["policy_version"] == POLICY.version
    assert row["model_version"] == "warning-gbm-test"
    assert row["decision_ref"] == "warning:high_score:20260228:A0001"
    assert row["intervention"] == "warning_message"
    assert row["sends"] is True


def test_a_rule_in_its_cool_down_does_not_fire_on_a_new_cycle() -> None:
    state = {**QUIET, "score": 0.4}
    earlier = {
        "account_id": "A0001",
        "rule": "high_score",
        "cycle_date": dt.date(2026, 1, 31),
        "sends": True,
    }
    # high_score cools down for 30 days
    assert rules_for(state, [{**earlier, "fired_on": AS_OF - dt.timedelta(days=29)}]) == []
    assert rules_for(state, [{**earlier, "fired_on": AS_OF - dt.timedelta(days=30)}]) == [
        "high_score"
    ]


def test_the_same_rule_and_cycle_already_stored_is_the_same_intervention() -> None:
    state = {**QUIET, "score": 0.4}
    first = evaluate_account(state, POLICY, AS_OF)
    stored = [
        {"account_id": r["account_id"], "rule": r["rule"], "cycle_date": CYCLE, "fired_on": AS_OF}
        | {"sends": r["sends"]}
        for r in first
    ]
    again = evaluate_account(state, POLICY, AS_OF + dt.timedelta(days=3), stored)
    assert [r["decision_ref"] for r in again] == [r["decision_ref"] for r in first]


def test_at_most_two_contacts_a_month_by_priority_and_a_hold_is_not_a_contact() -> None:
    loud = {
        **QUIET,
        "score": 0.6,
        "score_change": 0.2,
        "due_date": AS_OF + dt.timedelta(days=1),
        "spend_to_6m_average": 4.0,
        "utilisation": 0.9,
        "days_since_limit_increase": 20,
        "cash_advance_days_after_increase": 5,
    }
    # all six hold; the cap of two contacts keeps the two lowest priority numbers, plus the hold
    assert rules_for(loud) == ["cash_after_increase", "unpaid_near_due", "very_high_score"]
    sent_before = {
        "account_id": "A0001",
        "rule": "other",
        "cycle_date": dt.date(2026, 1, 31),
        "sends": True,
    }
    one_left = [{**sent_before, "fired_on": AS_OF - dt.timedelta(days=10)}]
    assert rules_for(loud, one_left) == ["cash_after_increase", "unpaid_near_due"]
    outside_window = [{**sent_before, "fired_on": AS_OF - dt.timedelta(days=30)}]
    assert rules_for(loud, outside_window) == [
        "cash_after_increase",
        "unpaid_near_due",
        "very_high_score",
    ]


def test_a_frame_is_decided_as_each_of_its_accounts_alone() -> None:
    states = [
        {**QUIET, "account_id": f"A{i:04d}", "score": 0.1 * i, "score_change": 0.05 * i}
        for i in range(8)
    ]
    frame = pl.DataFrame(states)
    together = decide(frame, POLICY, AS_OF).sort("decision_ref")["decision_ref"].to_list()
    alone = sorted(r["decision_ref"] for s in states for r in evaluate_account(s, POLICY, AS_OF))
    assert together == alone
    assert together  # some fire


def test_a_long_account_id_gets_a_reference_that_fits_the_outbox() -> None:
    ref = decision_ref("spend_spike_high_use", CYCLE, "X" * 64)
    assert len(ref) <= 64
    assert ref.startswith("warning:spend_spike_high_use:20260228:#")


def test_states_without_an_account_id_are_refused_by_every_rule_check() -> None:
    states = pl.DataFrame({"as_of": [dt.date(2026, 11, 3)]})
    with pytest.raises(ValueError, match="need an account_id column"):
        conform(states)
    with pytest.raises(ValueError, match="need an account_id column"):
        holding_rules(states, load_warning_policy())
