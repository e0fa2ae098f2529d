"""``cardpilot generate`` on the command line."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from cardpilot.cli import app
from cardpilot.cli.output import envelope_data


def test_generate_prints_one_json_object_with_counts(tmp_path: Path) -> None:
    out = tmp_path / "portfolio"
    args = ["generate", "--accounts", "1500", "--seed", "3", "--out", str(out)]
    args += ["--months", "6", "--no-transactions", "--chunk-size", "1000"]
    args += ["--end-cycle", "2026-06-30", "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    payload = envelope_data(result.stdout)
    assert payload["rows"] == {
        "customers": 1500,
        "accounts": 1500,
        "statements": 9000,
        "labels": 1500,
    }
    assert payload["parts"]["statements"] == 2
    assert payload["end_cycle"] == "2026-06-30"


def test_generate_explains_a_bad_end_cycle(tmp_path: Path) -> None:
    args = ["generate", "--out", str(tmp_path), "--end-cycle", "2026-06-15", "--accounts", "5"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "last day of a month" in result.output
