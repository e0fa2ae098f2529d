"""The fairness report on the real UCI portfolio: imported, reviewed as of 2005-10-01 with the
uci-twd policy and the fixture scorecard (``uci_reviewed_copy``), then ``cardpilot fairness
report --json``.

The figures themselves are in docs/fairness.md; the policy files may be recalibrated, so this
test holds what does not move with them: the groups the data has, every measure present, each
flag exactly where the four-fifths rule puts it, and the model's AUC measured in every group.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cardpilot.cli import app
from cardpilot.cli.output import envelope_data

MEASURES = ("increase_share", "decrease_share", "air_increase", "air_decrease", "auc")

pytestmark = [pytest.mark.realdata, pytest.mark.slow]


@pytest.fixture(scope="module")
def report(uci_reviewed_copy: Callable[[str], tuple[str, Path]]) -> dict[str, Any]:
    url, home = uci_reviewed_copy("fairness-uci")
    args = ["fairness", "report", "--database", url, "--json", "--out", str(home / "f.html")]
    result = CliRunner().invoke(app, args, env={"CARDPILOT_HOME": str(home)})
    assert result.exit_code == 0, result.output
    parsed: dict[str, Any] = envelope_data(result.stdout)
    return parsed


def _groups(report: dict[str, Any], attribute: str) -> dict[str, dict[str, Any]]:
    found = next(a for a in report["attributes"] if a["attribute"] == attribute)
    return {g["group"]: g for g in found["groups"]}


def test_every_protected_group_of_the_real_data_has_its_measures(report: dict[str, Any]) -> None:
    assert report["cycle_id"] == "2005-H2"
    assert report["as_of"] == "2005-10-01"
    assert report["accounts"] == 30_000
    assert report["portfolio"]["labelled"] == 30_000
    sex = _groups(report, "sex")
    assert {g: s["accounts"] for g, s in sex.items()} == {"female": 18_112, "male": 11_888}
    marital = _groups(report, "marital_status")
    assert {g: s["accounts"] for g, s in marital.items()} == {
        "single": 15_964,
        "married": 13_659,
        "other": 323,
        "unknown": 54,
    }
    ages = _groups(report, "age_band")
    assert list(ages) == ["<25", "25-34", "35-44", "45-54", "55-64", "65+"]
    assert sum(g["accounts"] for g in ages.values()) == 30_000
    for attribute in report["attributes"]:
        for group in attribute["groups"]:
            for measure in MEASURES:
                assert group[measure] is not None, (attribute["attribute"], group["group"])
            assert 0.6 < float(group["auc"]) < 0.9  # figures are decimal strings in --json


def test_flags_follow_the_four_fifths_rule_outside_small_groups(report: dict[str, Any]) -> None:
    small = {g for g, s in _groups(report, "marital_status").items() if s["small"]}
    assert small == {"unknown"}
    flagged = set()
    for attribute in report["attributes"]:
        for group in attribute["groups"]:
            for measure in ("air_increase", "air_decrease"):
                under = float(group[measure]) < 0.8 and not group["small"]
                assert (measure in group["flags"]) == under
                if under:
                    flagged.add((attribute["attribute"], group["group"], measure))
    assert flagged == {(f["attribute"], f["group"], f["measure"]) for f in report["flagged"]}
