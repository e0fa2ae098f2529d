"""The policy's ``watch_actions`` section: what follows each watch flag."""

from __future__ import annotations

from pathlib import Path

import pytest

from cardpilot.policy.loading import PolicyError, load_policy, policy_from_data

PINNED_POLICY = Path(__file__).resolve().parents[1] / "fixtures" / "policies" / "uci-twd-2026.11"


def test_a_policy_file_without_watch_actions_keeps_the_version_its_decisions_recorded():
    policy = load_policy(PINNED_POLICY)
    assert policy.limits.watch_actions is None
    assert policy.version == "2026.11.0-uci-twd+fcb94b0dcd84"


def test_the_shipped_policies_map_every_watch_rule_to_an_action():
    for name in ("default", "uci-twd"):
        folder = Path(__file__).resolve().parents[2] / "src" / "cardpilot" / "policies" / name
        actions = load_policy(folder).limits.watch_actions
        assert actions is not None
        assert set(actions.by_rule()) == {
            "missed_payment",
            "utilisation_jump",
            "cash_advance_surge",
            "spending_spike",
        }


def test_an_unknown_watch_action_is_refused_naming_the_field(policy_data):
    limits, reasons = policy_data
    limits["watch_actions"]["spending_spike"] = "freeze"
    with pytest.raises(PolicyError, match="spending_spike"):
        policy_from_data(limits, reasons)


def test_a_hold_reason_needs_a_text(policy_data):
    limits, reasons = policy_data
    limits["watch_actions"]["hold_reason"] = "KEEP_NO_SUCH_TEXT"
    with pytest.raises(PolicyError, match=r"watch_actions\.hold_reason"):
        policy_from_data(limits, reasons)
