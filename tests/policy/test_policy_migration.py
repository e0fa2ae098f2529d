"""Old-syntax policy files still load (shim, with a warning) and `cardpilot policy migrate`
rewrites them in the one condition language, keeping comments, rules and recorded versions."""

from __future__ import annotations

import datetime as dt
import shutil
import warnings
from pathlib import Path

import polars as pl
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cardpilot.cli import app
from cardpilot.cli.output import envelope_data
from cardpilot.overdue.loading import load_overdue_policy, overdue_policy_from_data
from cardpilot.overdue.treatment import assign_treatments
from cardpilot.policy.loading import default_policy_path, load_policy
from cardpilot.policy.migration import migrate_policy_folder
from cardpilot.policy.old_syntax import OldPolicySyntaxWarning

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
OLD_FOLDER = FIXTURES / "policies" / "uci-twd-2026.11"  # kept in the old syntax on purpose
SHIPPED = default_policy_path().parent
AS_OF = dt.date(2005, 10, 1)


def _load_old(folder: Path):  # type: ignore[no-untyped-def]
    with pytest.warns(OldPolicySyntaxWarning, match="cardpilot policy migrate"):
        return load_overdue_policy(folder)


def _load_new(folder: Path):  # type: ignore[no-untyped-def]
    with warnings.catch_warnings():
        warnings.simplefilter("error", OldPolicySyntaxWarning)
        return load_overdue_policy(folder)


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("migrated") / "uci-twd"
    migrate_policy_folder(OLD_FOLDER, out)
    return out


def test_old_syntax_file_loads_through_the_shim_with_a_deprecation_warning():
    policy = _load_old(OLD_FOLDER)
    high = policy.file.segments[0]
    assert [rule.reason for rule in high.rules][:1] == ["OVERDUE_HIGH_PD"]
    assert high.rules[0].when.feature == "pd"  # type: ignore[union-attr]


@pytest.mark.parametrize("name", ["default", "uci-twd"])
def test_shipped_policies_are_written_in_the_one_condition_language(name):
    text = (SHIPPED / name / "overdue.yaml").read_text(encoding="utf-8")
    assert "when_any" not in text
    assert "field:" not in text
    _load_new(SHIPPED / name)  # no shim, no warning


def test_migration_keeps_comments_and_changes_only_the_condition_syntax(migrated):
    old = (OLD_FOLDER / "overdue.yaml").read_text(encoding="utf-8").splitlines()
    new = (migrated / "overdue.yaml").read_text(encoding="utf-8").splitlines()
    assert [line for line in new if "#" in line] == [line for line in old if "#" in line]
    assert "when_any" not in "\n".join(new)
    assert (migrated / "limits.yaml").read_bytes() == (OLD_FOLDER / "limits.yaml").read_bytes()
    assert (migrated / "reasons.yaml").read_bytes() == (OLD_FOLDER / "reasons.yaml").read_bytes()
    low = yaml.safe_load("\n".join(new))["segments"][1]["rules"][0]
    assert low["when"]["all"][0] == {"feature": "pd", "op": "<", "value": 0.23}


def test_migrated_copy_records_the_same_policy_versions(migrated):
    assert _load_new(migrated).version == _load_old(OLD_FOLDER).version
    assert load_policy(migrated).version == load_policy(OLD_FOLDER).version


accounts = st.fixed_dictionaries(
    {
        "pd": st.one_of(st.none(), st.floats(0, 1)),
        "days_past_due": st.integers(0, 200),
        "cures": st.integers(0, 3),
        "broken_promises": st.integers(0, 3),
        "overdue_balance_minor": st.integers(0, 10**8),
    }
)


@settings(max_examples=40, deadline=None)
@given(st.lists(accounts, min_size=1, max_size=30))
def test_old_syntax_and_migrated_copy_decide_identically(migrated, rows):
    old, new = _load_old(OLD_FOLDER), _load_new(migrated)
    scale = old.file.aging.scale()
    table = pl.DataFrame(
        [
            {**r, "account_id": f"a{i}", "bucket": scale.bucket_for(r["days_past_due"])}
            for i, r in enumerate(rows)
        ]
    )
    expected = assign_treatments(table, old, AS_OF)
    assert assign_treatments(table, new, AS_OF).equals(expected)


def test_nested_any_and_not_work_in_overdue_rules():
    data = yaml.safe_load((SHIPPED / "default" / "overdue.yaml").read_text(encoding="utf-8"))
    data["segments"][0]["rules"][0]["when"] = {
        "any": [
            {"feature": "pd", "op": ">=", "value": 0.35},
            {"not": {"feature": "bucket", "op": "in", "value": ["M1", "M2"]}},
        ]
    }
    policy = overdue_policy_from_data(data)
    table = pl.DataFrame(
        {
            "account_id": ["deep", "early"],
            "pd": [0.01, 0.01],
            "bucket": ["M4", "M1"],
            "days_past_due": [100, 5],
            "cures": [0, 0],
            "broken_promises": [0, 0],
            "overdue_balance_minor": [10_000, 10_000],
        }
    )
    out = assign_treatments(table, policy, AS_OF)
    assert out["risk_segment"].to_list() == ["high_risk", "low_risk"]


def test_migrate_command_rewrites_a_folder_in_place_and_reports_json(tmp_path):
    folder = tmp_path / "policy"
    shutil.copytree(OLD_FOLDER, folder)
    result = CliRunner().invoke(app, ["policy", "migrate", str(folder), "--json"])
    assert result.exit_code == 0, result.output
    report = envelope_data(result.stdout)
    assert "segments[0].when_any" in report["changed"]["overdue.yaml"]
    assert report["changed"]["limits.yaml"] == []
    _load_new(folder)
    again = CliRunner().invoke(app, ["policy", "migrate", str(folder), "--json"])
    assert envelope_data(again.stdout)["changed"]["overdue.yaml"] == []  # idempotent


def test_migrate_command_refuses_a_folder_without_policy_files(tmp_path):
    result = CliRunner().invoke(app, ["policy", "migrate", str(tmp_path)])
    assert result.exit_code != 0
    assert "not a policy folder" in result.output
