"""``cardpilot review``, ``cardpilot watch`` and ``cardpilot assign`` from the command line."""

from __future__ import annotations

from decimal import Decimal

import polars as pl
import pytest
from typer.testing import CliRunner

import cardpilot.cli.review as review_cli
from cardpilot.cli import app
from cardpilot.cli.output import envelope_data

runner = CliRunner()


@pytest.fixture
def standin_model(monkeypatch, scorer):
    monkeypatch.setattr(review_cli, "load_scorer", lambda model, family: scorer)


def _json(output: str) -> dict:
    return envelope_data(output)


@pytest.mark.usefixtures("standin_model")
def test_review_json_prints_counts_by_action_grade_segment_and_run_id(loaded_store, tmp_path):
    out = tmp_path / "decisions.csv"
    report = tmp_path / "review.html"
    args = ["review", "--as-of", "2026-05-01", "--database", loaded_store, "--json"]
    result = runner.invoke(app, [*args, "--out", str(out), "--report", str(report)])
    assert result.exit_code == 0, result.output
    payload = _json(result.stdout)
    assert payload["run_id"] == "1"
    assert payload["cycle_id"] == "2026-H1"
    assert sum(payload["by_action"].values()) == payload["decided"] > 0
    assert sum(payload["by_grade"].values()) == payload["decided"]
    assert sum(payload["by_segment"].values()) == payload["decided"]
    assert pl.read_csv(out, infer_schema=False).height == payload["decided"]
    html = report.read_text(encoding="utf-8")
    for heading in (
        "Grades and observed default rate",
        "Limit changes by grade",
        "Limit changes by segment",
        "Reason frequencies",
        "Watch list",
    ):
        assert heading in html
    assert 'class="vega-chart"' in html
    assert "http" not in html.rsplit("</head>", 1)[1]
    # A second run of the cycle decides nothing.
    again = _json(runner.invoke(app, args).stdout)
    assert again["decided"] == 0
    assert again["skipped"] == payload["decided"]

    watch = runner.invoke(app, ["watch", "--database", loaded_store, "--json"])
    assert watch.exit_code == 0, watch.output
    assert _json(watch.stdout)["watched"] == payload["watched"] > 0


@pytest.mark.usefixtures("standin_model")
def test_a_rerun_with_no_new_statements_says_it_has_nothing_new_to_decide(loaded_store):
    first = ["review", "--as-of", "2026-11-01", "--database", loaded_store, "--json"]
    decided = _json(runner.invoke(app, first).stdout)["decided"]
    result = runner.invoke(app, ["review", "--as-of", "2027-01-02", "--database", loaded_store])
    assert result.exit_code == 0, result.output
    assert "decided 0 · " in result.stdout
    assert f"{decided:,} with no statement since their last decision" in result.stdout
    assert "nothing new to decide" in result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) <= 80

    watch = runner.invoke(app, ["watch", "--check", "--database", loaded_store])
    assert watch.exit_code == 0, watch.output


@pytest.mark.usefixtures("english")
def test_review_refuses_unknown_engine_and_bad_date(loaded_store):
    bad = runner.invoke(app, ["review", "--engine", "flink", "--database", loaded_store])
    assert bad.exit_code == 2
    assert "--engine" in bad.output
    result = runner.invoke(app, ["review", "--model", "/nonexistent", "--database", loaded_store])
    assert result.exit_code == 2
    assert "no such folder" in result.output


def test_assign_one_applicant_places_limit_inside_the_grade_range():
    result = runner.invoke(app, ["assign", "--score", "800", "--income", "200000", "--json"])
    assert result.exit_code == 0, result.output
    data = _json(result.stdout)
    offer = data["offers"][0]
    assert offer["grade"] == "excellent"
    assert offer["action"] == "offer"
    assert data["currency"] == "CNY"
    assert Decimal("10000") <= Decimal(offer["initial_limit"]) <= Decimal("50000")
    assert offer["reason_codes"][0] == "INITIAL_LIMIT_BY_GRADE"


def test_assign_reads_a_csv_of_applicants_with_income_in_yuan(tmp_path):
    source = tmp_path / "applicants.csv"
    source.write_text(
        "applicant_id,score,annual_income\nP1,800,200000.00\nP2,600,\nP3,,50000\nP4,700,5000\n",
        encoding="utf-8",
    )
    out = tmp_path / "offers.csv"
    result = runner.invoke(
        app, ["assign", "--applicants", str(source), "--out", str(out), "--json"]
    )
    assert result.exit_code == 0, result.output
    offers = {o["applicant_id"]: o for o in _json(result.stdout)["offers"]}
    assert offers["P1"]["action"] == "offer"
    assert offers["P2"]["grade"] == "fair"
    assert offers["P2"]["action"] == "offer"
    assert offers["P3"]["action"] == "refer"  # no score: a person decides
    assert offers["P4"]["action"] == "decline"  # income cap below the grade's minimum
    assert pl.read_csv(out).height == 4


def test_assign_applicant_is_the_one_call_the_api_uses():
    from cardpilot.jobs.assign import assign_applicant

    offer = assign_applicant("X", score=660, annual_income_minor=None)
    assert offer["grade"] == "good"
    assert offer["action"] == "offer"
    assert 500_000 <= offer["initial_limit_minor"] <= 2_000_000
    assert offer["reason_texts_zh"]
    assert offer["reason_texts_en"]
