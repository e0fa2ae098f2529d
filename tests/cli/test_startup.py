"""The command line starts without loading the libraries only some commands need."""

from __future__ import annotations

import json
import subprocess
import sys

# Each takes longer to load than most commands take to run.
ONLY_WHEN_USED = ("sklearn", "scipy", "pandas", "altair", "lightgbm", "optbinning", "pyspark")


def test_the_command_line_loads_no_numerical_or_chart_library_to_start() -> None:
    probe = (
        "import json, sys; import cardpilot.cli; "
        f"print(json.dumps([m for m in {ONLY_WHEN_USED!r} if m in sys.modules]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True
    ).stdout
    assert json.loads(out) == []


def test_the_fairness_command_still_offers_its_defaults() -> None:
    from typer.testing import CliRunner

    from cardpilot.cli import app

    result = CliRunner().invoke(app, ["fairness", "report", "--help"])
    assert result.exit_code == 0
    assert "default_next_month" in result.output
