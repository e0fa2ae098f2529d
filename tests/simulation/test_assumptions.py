"""The simulation's assumptions (simulation.yaml): shipped for every limit policy that is
simulated, each value with its source, validated on the policy files' conventions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from cardpilot.policy.assumptions import (
    ASSUMPTION,
    SIMULATION_FILE,
    assumptions_from_data,
    load_assumptions,
)
from cardpilot.policy.catalogue import shipped_dir
from cardpilot.policy.loading import PolicyError, load_policy


def _data(name: str = "uci-twd") -> dict[str, Any]:
    text = (shipped_dir() / name / SIMULATION_FILE).read_text(encoding="utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


@pytest.mark.parametrize("name", ["default", "uci-twd"])
def test_each_shipped_policy_has_assumptions_in_its_currency_every_one_sourced(name: str) -> None:
    assumptions = load_assumptions(shipped_dir() / name)
    assert assumptions.currency == load_policy(shipped_dir() / name).limits.currency
    shown = assumptions.shown()
    assert {row["name"] for row in shown} >= {
        "lgd",
        "ccf",
        "interest_rate_annual",
        "interchange_rate",
        "funding_rate_annual",
        "message_cost",
        "fee_waiver_share",
        "collection_cost",
        "spend_response",
    }
    for row in shown:
        assert row["source"].strip(), row
    # Every source is a citation or says it is an assumption; both kinds are used.
    assert any(r["source"].startswith(ASSUMPTION) for r in shown)


def test_percentages_are_basis_points_and_money_minor_units() -> None:
    assumptions = load_assumptions(shipped_dir() / "uci-twd")
    assert assumptions.lgd.bp == 7_500
    assert assumptions.message_cost.value_yuan == 20  # NT$0.20 as cents
    assert assumptions.collection_cost.value_yuan == 120_000


def test_a_value_without_its_source_names_the_field() -> None:
    data = _data()
    del data["ccf"]["source"]
    with pytest.raises(PolicyError, match=r"simulation\.yaml: ccf\.source: Field required"):
        assumptions_from_data(data)


def test_an_amount_with_a_third_decimal_is_an_error_not_rounded() -> None:
    data = _data()
    data["message_cost"]["value_yuan"] = 0.125
    with pytest.raises(PolicyError, match=r"message_cost\.value_yuan: .*more than two decimals"):
        assumptions_from_data(data)


def test_an_unknown_key_is_an_error() -> None:
    data = _data()
    data["lgd"]["pct_typo"] = 1
    with pytest.raises(PolicyError, match=r"lgd\.pct_typo"):
        assumptions_from_data(data)


def test_the_version_changes_with_any_value() -> None:
    data = _data()
    before = assumptions_from_data(data).version
    data["lgd"]["pct"] = 80
    after = assumptions_from_data(data).version
    assert before.split("+")[0] == after.split("+")[0]
    assert before != after


def test_a_policy_folder_without_assumptions_says_what_to_pass(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"simulation\.yaml: file not found.*--assumptions"):
        load_assumptions(tmp_path)
