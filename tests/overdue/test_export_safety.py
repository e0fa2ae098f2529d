"""The treatment export is safe to open in a spreadsheet: an account id that reads as a
formula comes out with a leading quote (``cardpilot.csv_safety``)."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from cardpilot.jobs.overdue import treat_overdue

from .conftest import AS_OF


def test_a_formula_account_id_is_neutralised_in_the_treatment_export(
    overdue_store: str, scorer, formula_account, tmp_path: Path
) -> None:
    hostile = formula_account(overdue_store)  # a copy of "a-low": overdue, so treated
    out = tmp_path / "treatments.csv"
    treat_overdue(overdue_store, scorer, as_of=AS_OF, out=out)
    ids = pl.read_csv(out, infer_schema=False)["account_id"].to_list()
    assert "'" + hostile in ids
    assert not any(i.startswith("=") for i in ids)
