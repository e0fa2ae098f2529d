"""The early-warning model on the real UCI data: accounts current in September 2005, the
reference split's test rows, beside the champion scorecard; skipped when the file is absent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cardpilot.cli import app
from cardpilot.cli.output import envelope_data
from cardpilot.config import get_settings

pytestmark = pytest.mark.realdata

CHAMPION = Path(__file__).parents[1] / "fixtures" / "models" / "uci-scorecard"


@pytest.fixture(scope="module")
def warn_result(uci_path: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:  # type: ignore[type-arg]
    home = tmp_path_factory.mktemp("warn-home")
    out = home / "out"
    args = ["warn", "train", "--format", "uci", "--data", str(uci_path), "--out", str(out)]
    args += ["--champion", str(CHAMPION), "--json"]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CARDPILOT_HOME", str(home))
        get_settings.cache_clear()
        result = CliRunner().invoke(app, args)
    get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    data: dict = envelope_data(result.stdout)  # type: ignore[type-arg]
    data["_out"] = str(out)
    data["_home"] = str(home)
    return data


def test_top_decile_captures_at_least_24_percent_of_next_month_defaults(warn_result) -> None:  # type: ignore[no-untyped-def]
    assert float(warn_result["top_decile_capture"]) >= 0.24  # --json figures: decimal strings


def test_auc_is_not_below_the_champion_scorecards_on_the_same_accounts(warn_result) -> None:  # type: ignore[no-untyped-def]
    assert float(warn_result["auc"]) >= float(warn_result["champion_auc"])


def test_measured_on_the_current_accounts_of_the_reference_test_rows(warn_result) -> None:  # type: ignore[no-untyped-def]
    # 9,000 reference test rows; those with repayment status <= 0 in September 2005
    assert 6_000 < warn_result["test_accounts"] < 9_000
    assert warn_result["as_of"] == "2005-09-30"


def test_models_are_registered_under_the_warning_subject(warn_result) -> None:  # type: ignore[no-untyped-def]
    meta = json.loads((Path(warn_result["_out"]) / "gbm" / "metadata.json").read_text())
    assert meta["subject"] == "warning"
    assert not any("sex" in f or "marital" in f for f in meta["features"])
    champions = json.loads((Path(warn_result["_home"]) / "models" / "champions.json").read_text())
    assert {"warning-scorecard", "warning-gbm"} <= set(champions)
