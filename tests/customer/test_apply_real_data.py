"""``cardpilot apply`` on the credit_data reference split's test rows (real data; skipped when
absent), with the committed application scorecard trained on the same split's training rows:
every applicant decided, no limit outside its grade's range or above the affordability cap, and
the bad rate rising from the best grade to the worst (docs/customer.md has the figures)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from typer.testing import CliRunner

from cardpilot.cli import app
from cardpilot.cli.output import envelope_data

runner = CliRunner()
TEST_ROWS = 1_337  # 30 % of 4,454, stratified on the outcome


def test_apply_on_the_test_rows_decides_everyone_within_range_cap_and_rising_bad_rates(
    credit_data: Path, sqlite_store: str
) -> None:
    model = Path(__file__).resolve().parents[1] / "fixtures" / "models" / "application-scorecard"
    result = runner.invoke(
        app,
        [
            "apply", str(credit_data), "--split", "test", "--policy", "credit-data",
            "--model", str(model), "--database", sqlite_store, "--json",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    out = envelope_data(result.stdout)
    assert out["applications"] == out["decided"] == TEST_ROWS
    assert out["referred"] == 0
    decisions = pl.DataFrame(out["decisions"])
    offers = decisions.filter(pl.col("action") == "offer").with_columns(
        pl.col("initial_limit", "affordability_cap").cast(pl.Float64)
    )
    assert out["accounts_opened"] == offers.height
    ranges = {g["grade"]: (float(g["range_min"]), float(g["range_max"])) for g in out["grades"]}
    for row in offers.iter_rows(named=True):
        low, high = ranges[row["grade"]]
        assert low <= row["initial_limit"] <= high
        if row["affordability_cap"] is not None:
            assert row["initial_limit"] <= row["affordability_cap"]
    bad_rates = [float(g["bad_rate"]) for g in out["grades"]]
    assert bad_rates == sorted(bad_rates), bad_rates
    assert all(g["applicants"] > 0 for g in out["grades"])
    approvals = [float(g["approval_rate"]) for g in out["grades"]]
    assert approvals[0] > approvals[-1]
