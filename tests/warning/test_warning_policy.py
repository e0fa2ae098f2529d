"""warning.yaml is validated like every policy file: unknown keys, unknown trigger inputs,
protected attributes, money without value_yuan and dangling interventions are errors naming
the field; the version is the declared one plus a hash of the content."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from cardpilot.warning.policy import (
    WarningPolicyError,
    default_warning_policy_path,
    load_warning_policy,
    warning_policy_from_data,
)

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = yaml.safe_load(default_warning_policy_path().read_text(encoding="utf-8"))


def minimum_balance(policy: Any) -> int:
    """The near-due rule's balance threshold (fen)."""
    return int(policy.file.rules[0].when.all[4].value_yuan)


def edited(change: Any) -> dict[str, Any]:
    data = copy.deepcopy(SHIPPED)
    change(data)
    return data


def error_of(data: dict[str, Any]) -> str:
    with pytest.raises(WarningPolicyError) as caught:
        warning_policy_from_data(data, "warning.yaml")
    return str(caught.value)


def test_the_shipped_policies_load_with_a_content_hash_in_their_versions() -> None:
    default = load_warning_policy()
    twd = load_warning_policy(ROOT / "src" / "cardpilot" / "policies" / "uci-twd")
    assert default.version.startswith("2026.12-warning-1+")
    assert twd.file.currency == "TWD"
    assert default.version.split("+")[1] != twd.version.split("+")[1]
    # the one money threshold, restated at 1 CNY = 4 TWD
    assert (minimum_balance(default), minimum_balance(twd)) == (50_000, 200_000)


def test_a_comment_or_key_order_does_not_change_the_version() -> None:
    reordered = dict(reversed(list(SHIPPED.items())))
    assert warning_policy_from_data(reordered).version == load_warning_policy().version


def test_an_unknown_trigger_input_is_named_with_the_known_ones() -> None:
    def change(d: dict[str, Any]) -> None:
        d["rules"][5]["when"] = {"feature": "scroe", "op": ">=", "value": 0.3}

    message = error_of(edited(change))
    assert "rules[5].when.feature" in message
    assert "unknown trigger input 'scroe'" in message


def test_a_protected_attribute_never_steers_a_warning() -> None:
    def change(d: dict[str, Any]) -> None:
        d["rules"][5]["when"] = {"feature": "sex", "op": "==", "value": "F"}

    assert "protected attribute" in error_of(edited(change))


def test_money_is_written_in_yuan() -> None:
    def change(d: dict[str, Any]) -> None:
        d["rules"][0]["when"]["all"][3] = {
            "feature": "unpaid_minimum_minor",
            "op": ">",
            "value": 0,
        }

    assert "value_yuan" in error_of(edited(change))


def test_a_rule_names_an_intervention_the_file_defines() -> None:
    def change(d: dict[str, Any]) -> None:
        d["rules"][5]["intervention"] = "phone_call"

    assert "unknown intervention 'phone_call'" in error_of(edited(change))


def test_a_plan_offer_names_its_plan_and_a_hold_its_days() -> None:
    def no_plan(d: dict[str, Any]) -> None:
        del d["interventions"]["instalment_offer"]["plan"]

    def no_days(d: dict[str, Any]) -> None:
        del d["interventions"]["hold_increases"]["hold_days"]

    assert "interventions.instalment_offer" in error_of(edited(no_plan))
    assert "interventions.hold_increases" in error_of(edited(no_days))


def test_an_unknown_key_is_an_error() -> None:
    def change(d: dict[str, Any]) -> None:
        d["quiet_hours"] = {"start": "22:00"}

    assert "quiet_hours" in error_of(edited(change))
