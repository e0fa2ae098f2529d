"""``cardpilot policy calibrate``: score cut-offs placed on the store's own scored accounts."""

from __future__ import annotations

import datetime as dt

import pytest
from typer.testing import CliRunner

import cardpilot.cli.review as review_cli
from cardpilot.cli import app
from cardpilot.cli.output import envelope_data
from cardpilot.jobs.review import review_portfolio
from cardpilot.policy.loading import load_policy

runner = CliRunner()
AS_OF = "2026-05-01"


@pytest.fixture
def standin_model(monkeypatch, scorer):
    monkeypatch.setattr(review_cli, "load_scorer", lambda model, family: scorer)


def _calibrate(store: str, out, *extra: str):
    args = ["policy", "calibrate", "--out", str(out), "--as-of", AS_OF, "--database", store]
    return runner.invoke(app, [*args, "--json", *extra])


@pytest.mark.usefixtures("standin_model")
def test_calibrated_grades_hold_the_shares_asked_for_with_their_default_rates(
    loaded_store, tmp_path, scorer
):
    out = tmp_path / "policy"
    result = _calibrate(loaded_store, out)
    assert result.exit_code == 0, result.output
    payload = envelope_data(result.stdout)
    assert payload["accounts"] > 1_000
    assert payload["label"] is not None
    shares = [float(row["share"]) for row in payload["grade_report"]]
    assert shares == pytest.approx([0.3, 0.3, 0.2, 0.2], abs=0.03)
    assert all(row["default_rate"] is not None for row in payload["grade_report"])
    policy = load_policy(out)
    assert policy.version == payload["version"]
    # A review with the written policy grades the store's accounts into all four grades.
    reviewed = review_portfolio(loaded_store, scorer, policy=policy, notify=False)
    assert set(reviewed.by_grade) == {"excellent", "good", "fair", "poor"}


@pytest.mark.usefixtures("standin_model")
def test_calibration_on_a_sample_scores_only_the_first_accounts(sqlite_store, tmp_path):
    result = _calibrate(sqlite_store, tmp_path / "policy", "--sample", "300")
    assert result.exit_code == 0, result.output
    assert envelope_data(result.stdout)["accounts"] <= 300


@pytest.mark.usefixtures("standin_model")
@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--shares", "50,50"], "give 4 positive percentages"),
        (["--shares", "30,30,20,30"], "add up to 100"),
        (["--label", "nope"], "not in the store"),
    ],
)
def test_calibration_refuses_what_it_cannot_do_and_says_why(sqlite_store, tmp_path, extra, message):
    result = _calibrate(sqlite_store, tmp_path / "policy", *extra)
    assert result.exit_code != 0
    assert message in result.output
    assert not (tmp_path / "policy").exists()


@pytest.mark.usefixtures("standin_model")
def test_calibration_of_a_policy_in_another_currency_is_refused(sqlite_store, tmp_path):
    from cardpilot.policy.loading import default_policy_path

    twd = default_policy_path().parent / "uci-twd"
    result = runner.invoke(
        app,
        ["policy", "calibrate", str(twd), "--out", str(tmp_path / "p"), "--database", sqlite_store],
    )
    assert result.exit_code != 0
    assert "TWD" in result.output
    assert "CNY" in result.output


@pytest.mark.usefixtures("standin_model")
def test_a_new_declared_version_keeps_the_source_version_in_the_header(sqlite_store, tmp_path):
    out = tmp_path / "policy"
    result = _calibrate(sqlite_store, out, "--version", "2026.12.0-calibrated")
    assert result.exit_code == 0, result.output
    assert load_policy(out).limits.version == "2026.12.0-calibrated"
    header = (out / "limits.yaml").read_text(encoding="utf-8").split("\n\n", 1)[0]
    assert f"Source: {load_policy().limits.version}, from the shipped policy." in header


def test_calibration_tells_its_stages_scoring_counted_then_calibrating(loaded_store, scorer):
    from cardpilot.domain import progress
    from cardpilot.jobs.calibrate import calibrate_policy

    heard = progress.Recording()
    with progress.reporting(heard):
        calibrate_policy(
            loaded_store,
            scorer,
            load_policy(),
            shares=[0.3, 0.3, 0.2, 0.2],
            as_of=dt.date.fromisoformat(AS_OF),
        )
    stages = [str(event[0]) for event in heard.of("stage")]  # type: ignore[index]
    assert stages[0] == "scoring accounts"
    assert stages[-1] == "calibrating cut-offs and reading outcomes"
    assert sum(heard.of("advance")) > 1_000  # type: ignore[arg-type]  # accounts scored
