"""`cardpilot model list | show | promote | psi` against a registry built from trained models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from cardpilot.cli import app
from cardpilot.cli.output import envelope_data
from cardpilot.config import get_settings
from cardpilot.scoring.registry import Registry, save_model_dir

pytestmark = pytest.mark.realdata


@pytest.fixture
def home(trained, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CARDPILOT_HOME", str(tmp_path))
    get_settings.cache_clear()
    reg = Registry(tmp_path)
    for family, t in trained.items():
        reg.register(save_model_dir(t.model, t.metadata, tmp_path / "out" / family))
    yield tmp_path
    get_settings.cache_clear()


def test_list_marks_one_champion_per_family_and_promote_switches(home: Path, trained) -> None:  # type: ignore[no-untyped-def]
    runner = CliRunner()
    listed = envelope_data(runner.invoke(app, ["model", "list", "--json"]).stdout)["models"]
    assert {m["family"] for m in listed if m["champion"]} == {"scorecard", "gbm"}
    version = trained["gbm"].metadata["version"]
    shown = envelope_data(runner.invoke(app, ["model", "show", version, "--json"]).stdout)
    assert shown["data_hash"].startswith("sha256:")
    assert float(shown["metrics"]["test_auc"]) > 0.7  # a decimal string, as figures are
    result = runner.invoke(app, ["model", "promote", version, "--json"])
    assert envelope_data(result.stdout)["champions"]["gbm"] == version
    missing = runner.invoke(app, ["model", "show", "no-such-version"])
    assert missing.exit_code == 2


def test_psi_compares_two_scored_populations(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    pl.DataFrame({"score": rng.normal(550, 20, 5000).round()}).write_parquet(tmp_path / "a.parquet")
    pl.DataFrame({"score": rng.normal(600, 20, 5000).round()}).write_csv(tmp_path / "b.csv")
    result = CliRunner().invoke(
        app, ["model", "psi", str(tmp_path / "a.parquet"), str(tmp_path / "b.csv"), "--json"]
    )
    assert envelope_data(result.stdout)["verdict"] == "shifted"
