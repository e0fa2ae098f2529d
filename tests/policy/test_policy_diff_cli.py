"""``cardpilot policy validate | show | diff`` and the diff it prints."""

from __future__ import annotations

import shutil

import yaml
from typer.testing import CliRunner

import cardpilot.cli.policy  # noqa: F401  (registers the group until cli/__init__ imports it)
from cardpilot.cli import app
from cardpilot.cli.output import envelope_data
from cardpilot.policy.diff import diff_policies
from cardpilot.policy.loading import default_policy_path, policy_from_data

runner = CliRunner()


def edited_copy(tmp_path, edit):
    folder = tmp_path / "proposed"
    shutil.copytree(default_policy_path(), folder)
    path = folder / "limits.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    edit(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")
    return folder


def test_diff_lists_changed_values_by_grade_code_in_yuan(policy, policy_data):
    limits, reasons = policy_data
    limits["grades"][1]["caps"]["max_limit_yuan"] = 60000
    limits["grades"][0]["increase_pct"]["max"] = 45
    changes = {c.path: c for c in diff_policies(policy, policy_from_data(limits, reasons))}
    assert set(changes) == {
        "limits.grades[good].caps.max_limit_yuan",
        "limits.grades[excellent].increase_pct.max",
    }
    cap = changes["limits.grades[good].caps.max_limit_yuan"]
    assert (cap.kind, cap.old, cap.new) == ("changed", "50000.00", "60000.00")


def test_diff_of_a_policy_with_itself_is_empty(policy):
    assert diff_policies(policy, policy) == []


def test_diff_reports_segment_reordering(policy, policy_data):
    limits, reasons = policy_data
    segs = limits["segments"]
    segs[0], segs[1] = segs[1], segs[0]
    changes = diff_policies(policy, policy_from_data(limits, reasons))
    assert [c.path for c in changes] == ["limits.segments (order, first match wins)"]


def test_validate_command_accepts_the_shipped_policy():
    result = runner.invoke(app, ["policy", "validate", "--json"])
    assert result.exit_code == 0, result.output
    assert envelope_data(result.stdout)["valid"] is True


def test_validate_command_names_the_wrong_field(tmp_path):
    def edit(data):
        data["grades"][2]["increase_pct"]["min"] = 30

    folder = edited_copy(tmp_path, edit)
    result = runner.invoke(app, ["policy", "validate", str(folder), "--json"])
    assert result.exit_code == 2
    errors = envelope_data(result.stdout)["errors"]
    assert any("grades[2].increase_pct" in e for e in errors)


def test_show_command_reports_grades_as_json():
    result = runner.invoke(app, ["policy", "show", "--json"])
    assert result.exit_code == 0, result.output
    shown = envelope_data(result.stdout)
    assert [g["code"] for g in shown["grades"]] == ["excellent", "good", "fair", "poor"]
    assert shown["grades"][0]["initial_min"] == "10000.00"


def test_diff_command_reports_changes_as_json(tmp_path):
    def edit(data):
        data["review"]["cycle_months"] = 12

    folder = edited_copy(tmp_path, edit)
    result = runner.invoke(
        app, ["policy", "diff", str(default_policy_path()), str(folder), "--json"]
    )
    assert result.exit_code == 0, result.output
    out = envelope_data(result.stdout)
    assert out["changes"] == [
        {"path": "limits.review.cycle_months", "kind": "changed", "old": 6, "new": 12}
    ]
    assert out["old_version"] != out["new_version"]
