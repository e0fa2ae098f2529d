"""``cardpilot warn run`` and ``warn list`` end to end on a SQLite store, with a real (quickly
fitted) early-warning model folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import cardpilot.cli.warn  # noqa: F401 - registers the commands on app
from cardpilot.cli import app
from cardpilot.cli.output import envelope_data

from .test_warn_run import build_store

runner = CliRunner()


@pytest.mark.usefixtures("english")
def test_warn_run_then_list_gives_the_ranked_watch_list(
    tmp_path: Path, random_warning_model: Path
) -> None:
    url = build_store(f"sqlite:///{tmp_path / 'store.db'}")
    args = ["warn", "run", "--as-of", "2026-03-18", "--model", str(random_warning_model)]
    result = runner.invoke(app, [*args, "--database", url, "--json"])
    assert result.exit_code == 0, result.output
    out = envelope_data(result.stdout)
    assert (out["accounts"], out["current"], out["scored"]) == (6, 5, 5)
    assert out["model_version"] == "warning-gbm-quick-test"
    assert out["policy_version"].startswith("2026.12-warning-1+")
    assert out["by_rule"]["cash_after_increase"] == 1  # the hold does not depend on the score
    again = envelope_data(runner.invoke(app, [*args, "--database", url, "--json"]).stdout)
    assert (again["stored"], again["queued"]) == (0, 0)

    listing = ["warn", "list", "--as-of", "2026-03-18", "--database", url]
    listed = runner.invoke(app, [*listing, "--limit", "3", "--json"])
    assert listed.exit_code == 0, listed.output
    watch = envelope_data(listed.stdout)
    assert watch["as_of"] == "2026-03-18"
    rows = watch["watch_list"]
    assert [r["rank"] for r in rows] == [1, 2, 3]
    scores = [float(r["score"]) for r in rows]  # decimal text in the envelope
    assert scores == sorted(scores, reverse=True)
    assert "w3-overdue" not in {r["account_id"] for r in rows}
    text = runner.invoke(app, listing)
    assert text.exit_code == 0, text.output
    assert "2026-03-18" in text.output
    # without --as-of: the latest run on or before the day after the latest cycle (2026-03-01)
    before = runner.invoke(app, ["warn", "list", "--database", url])
    assert before.exit_code == 2
    assert "no early-warning run on or before 2026-03-01" in before.output


def test_warn_list_before_any_run_says_what_to_do(tmp_path: Path) -> None:
    url = build_store(f"sqlite:///{tmp_path / 'store.db'}")
    result = runner.invoke(app, ["warn", "list", "--database", url])
    assert result.exit_code == 2
    assert "cardpilot warn run --as-of DATE" in result.output


def test_warn_run_refuses_a_behaviour_model_and_a_bad_date(
    tmp_path: Path, random_warning_model: Path
) -> None:
    url = build_store(f"sqlite:///{tmp_path / 'store.db'}")
    behaviour = Path(__file__).resolve().parents[1] / "fixtures" / "models" / "uci-scorecard"
    wrong = runner.invoke(
        app, ["warn", "run", "--as-of", "2026-03-18", "--model", str(behaviour), "--database", url]
    )
    assert wrong.exit_code == 2
    assert "not an early-warning one" in wrong.output
    bad = runner.invoke(app, ["warn", "run", "--as-of", "18/03/2026", "--database", url])
    assert bad.exit_code == 2
