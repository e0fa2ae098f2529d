"""customer.yaml: validated like every policy file; its application grades fit limits.yaml."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from cardpilot.policy.catalogue import shipped_dir
from cardpilot.policy.customer import (
    APPLICATION_COLUMNS,
    CUSTOMER_FILE,
    application_limit_policy,
    load_customer_policy,
)
from cardpilot.policy.loading import PolicyError, load_policy
from cardpilot.scoring.application import APPLICATION_FEATURES


def _variant(tmp_path: Path, name: str, change) -> Path:  # type: ignore[no-untyped-def]
    folder = shutil.copytree(shipped_dir() / name, tmp_path / name)
    data = yaml.safe_load((folder / CUSTOMER_FILE).read_text(encoding="utf-8"))
    change(data)
    (folder / CUSTOMER_FILE).write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    return folder


@pytest.mark.parametrize("name", ["default", "credit-data"])
def test_shipped_customer_policies_load_and_fit_their_limit_policy(name: str) -> None:
    folder = shipped_dir() / name
    customer = load_customer_policy(folder)
    assert "+" in customer.version  # declared version + content hash
    graded = application_limit_policy(load_policy(folder), customer)
    assert graded.limits.grading.basis == "pd"
    bands = [g.pd for g in graded.limits.grades]
    assert bands[0] is not None
    assert bands[0].min == 0
    assert bands[-1] is not None
    assert bands[-1].max == 1


def test_decline_rules_read_the_application_features_but_never_age() -> None:
    assert set(APPLICATION_COLUMNS) == (set(APPLICATION_FEATURES) - {"age"}) | {
        "score",
        "pd",
        "grade",
    }


def test_a_decline_rule_on_a_protected_attribute_is_refused(tmp_path: Path) -> None:
    def marital(data: dict) -> None:
        data["applications"]["decline"].append(
            {
                "reason": "APP_DECLINE_HIGH_RISK",
                "when": {"feature": "marital_status", "op": "==", "value": "single"},
            }
        )

    with pytest.raises(PolicyError, match=r"decline\[2\]\.when\.feature: .*protected"):
        load_customer_policy(_variant(tmp_path, "default", marital))


def test_a_decline_rule_on_age_is_refused(tmp_path: Path) -> None:
    def age(data: dict) -> None:
        data["applications"]["decline"][0]["when"] = {"feature": "age", "op": "<", "value": 25}

    with pytest.raises(PolicyError, match="unknown feature 'age'"):
        load_customer_policy(_variant(tmp_path, "default", age))


def test_a_reason_without_text_and_unordered_bands_are_refused(tmp_path: Path) -> None:
    def no_text(data: dict) -> None:
        del data["reasons"]["APP_DECLINE_HIGH_RISK"]

    with pytest.raises(PolicyError, match="APP_DECLINE_HIGH_RISK"):
        load_customer_policy(_variant(tmp_path, "default", no_text))

    def unordered(data: dict) -> None:
        data["applications"]["grades"][1]["pd_below"] = 0.01

    with pytest.raises(PolicyError, match="pd_below must rise"):
        load_customer_policy(_variant(tmp_path / "b", "default", unordered))


def test_application_grades_must_name_the_limit_policy_grades(tmp_path: Path) -> None:
    def renamed(data: dict) -> None:
        data["applications"]["grades"][0]["grade"] = "platinum"

    folder = _variant(tmp_path, "default", renamed)
    with pytest.raises(PolicyError, match="excellent, good, fair, poor"):
        application_limit_policy(load_policy(folder), load_customer_policy(folder))


def test_currency_must_match_the_limit_policy(tmp_path: Path) -> None:
    def usd(data: dict) -> None:
        data["currency"] = "USD"

    folder = _variant(tmp_path, "default", usd)
    with pytest.raises(PolicyError, match="currency USD"):
        application_limit_policy(load_policy(folder), load_customer_policy(folder))


def test_policy_validate_checks_customer_yaml_too(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from cardpilot.cli import app
    from cardpilot.cli.output import envelope_data

    runner = CliRunner()
    ok = runner.invoke(app, ["policy", "validate", "credit-data", "--json"])
    assert ok.exit_code == 0, ok.output
    assert envelope_data(ok.stdout)["customer_version"].startswith("credit-data-2026.12.0+")

    def renamed(data: dict) -> None:
        data["applications"]["grades"][0]["grade"] = "platinum"

    bad = runner.invoke(
        app, ["policy", "validate", str(_variant(tmp_path, "credit-data", renamed)), "--json"]
    )
    assert bad.exit_code == 2
    assert envelope_data(bad.stdout)["valid"] is False
