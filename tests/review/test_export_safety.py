"""The review and assign exports are safe to open in a spreadsheet: an id that reads as a
formula comes out with a leading quote (``cardpilot.csv_safety``)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
from typer.testing import CliRunner

from cardpilot.cli import app
from cardpilot.cli.output import envelope_data
from cardpilot.jobs.review import review_portfolio

AS_OF = dt.date(2026, 5, 1)


def test_a_formula_account_id_is_neutralised_in_the_review_export(
    loaded_store: str, scorer, formula_account, tmp_path: Path
) -> None:
    hostile = formula_account(loaded_store)
    out = tmp_path / "decisions.csv"
    review_portfolio(loaded_store, scorer, as_of=AS_OF, out=out)
    ids = pl.read_csv(out, infer_schema=False)["account_id"].to_list()
    assert "'" + hostile in ids
    assert not any(i.startswith("=") for i in ids)


def test_a_formula_applicant_id_is_neutralised_in_the_assign_export(tmp_path: Path) -> None:
    hostile = "=cmd|' /C calc'!A0"
    out = tmp_path / "offers.csv"
    args = ["assign", "--id", hostile, "--score", "800", "--out", str(out), "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert envelope_data(result.stdout)["applicants"] == 1
    assert pl.read_csv(out, infer_schema=False)["applicant_id"].to_list() == ["'" + hostile]
