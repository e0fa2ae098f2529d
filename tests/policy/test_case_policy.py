"""The human-review policy file (cases.yaml): shipped and valid, versioned by content, and a
wrong value named by file and field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from cardpilot.policy.cases import CASES_FILE, load_case_policy
from cardpilot.policy.loading import PolicyError

SHIPPED = Path(__file__).resolve().parents[2] / "src" / "cardpilot" / "policies"


@pytest.mark.parametrize("name", ["default", "uci-twd"])
def test_the_shipped_case_policies_load_with_a_hold_and_both_outcome_texts(name: str) -> None:
    policy = load_case_policy(SHIPPED / name)
    assert policy.override_hold_days == 183
    assert policy.version.startswith("2026.12.0+")
    assert {"uphold", "override"} <= set(policy.outcome_texts)


def _write(tmp_path: Path, **changes: object) -> Path:
    data = yaml.safe_load((SHIPPED / "default" / CASES_FILE).read_text(encoding="utf-8"))
    data.update(changes)
    (tmp_path / CASES_FILE).write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return tmp_path


def test_a_changed_hold_changes_the_version(tmp_path: Path) -> None:
    assert load_case_policy(_write(tmp_path, override_hold_days=90)).version != (
        load_case_policy(SHIPPED / "default").version
    )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"override_hold_days": -1}, "override_hold_days"),
        ({"override_hold_days": 1000}, "override_hold_days"),
        ({"outcome_texts": {"uphold": {"zh-CN": "维持", "en": "Upheld"}}}, "override"),
        ({"hold_days": 10}, "hold_days"),
    ],
)
def test_a_wrong_value_is_named_by_file_and_field(tmp_path: Path, changes, field) -> None:
    with pytest.raises(PolicyError, match=field) as caught:
        load_case_policy(_write(tmp_path, **changes))
    assert CASES_FILE in str(caught.value)
