"""``cardpilot simulate`` on a synthetic store: one JSON object with both policies, their
difference and the back-test; the HTML report with its charts and every assumption's source."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cardpilot.cli import app
from cardpilot.cli.output import envelope_data
from cardpilot.policy.assumptions import load_assumptions
from cardpilot.policy.catalogue import shipped_dir
from cardpilot.store.db import make_engine
from cardpilot.store.limit_decisions import read_decisions

from .conftest import raised_increase_ranges

MODEL = Path(__file__).resolve().parents[1] / "fixtures" / "models" / "uci-scorecard"
KEYS = ("exposure", "expected_loss", "revenue", "cost", "net")


def test_simulate_prints_both_policies_the_difference_and_writes_the_report(
    simulation_store: str, tmp_path: Path
) -> None:
    against = raised_increase_ranges(shipped_dir() / "default", tmp_path / "raised")
    out = tmp_path / "simulation.html"
    result = CliRunner().invoke(
        app,
        [
            "simulate",
            "--database",
            simulation_store,
            "--model",
            str(MODEL),
            "--against",
            str(against),
            "--as-of",
            "2026-11-01",
            "--out",
            str(out),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    payload = envelope_data(result.stdout)
    mine, theirs = payload["policies"]
    assert (mine["name"], theirs["name"]) == ("default", str(against))
    for key in KEYS:
        assert key in mine["total"]
        assert key in theirs["total"]
        assert key in payload["difference"]["total"]
    assert payload["report"] == str(out)
    page = out.read_text(encoding="utf-8")
    assert 'id="chart-net-waterfall"' in page
    assert 'id="chart-grade-net"' in page
    for row in load_assumptions(shipped_dir() / "default").shown():
        assert row["name"] in page
    assert "NDRC" in page  # a source, shown beside its value
    db = make_engine(simulation_store)
    try:
        assert read_decisions(db).height == 0
    finally:
        db.dispose()


@pytest.mark.usefixtures("english")
def test_simulate_prints_a_table_and_the_back_test_without_json(simulation_store: str) -> None:
    result = CliRunner().invoke(
        app, ["simulate", "--database", simulation_store, "--model", str(MODEL)]
    )
    assert result.exit_code == 0, result.output
    assert "current limits" in result.stdout
    assert "back-test on default_next_month" in result.stdout


@pytest.mark.usefixtures("english")
def test_a_report_that_is_not_html_is_refused(simulation_store: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["simulate", "--database", simulation_store, "--model", str(MODEL), "--out", "x.csv"],
    )
    assert result.exit_code == 2
    assert "use a .html file name" in result.output
