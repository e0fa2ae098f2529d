"""Policies by name on the real UCI data (NT$): the review with the shipped default (CNY) is
refused naming ``uci-twd``, and ``--policy uci-twd`` reviews every account. Skipped when
../shared/data is absent."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

import cardpilot.cli.review  # noqa: F401  (registers the command until cli/__init__ imports it)
from cardpilot.cli import app
from cardpilot.cli.output import envelope_data

MODEL = Path(__file__).resolve().parents[1] / "fixtures" / "models" / "uci-scorecard"

pytestmark = [pytest.mark.realdata, pytest.mark.slow]


def test_the_uci_store_is_reviewed_by_policy_name_and_the_currency_error_names_it(
    uci_store_copy: Callable[[str], tuple[str, Path]],
) -> None:
    url, _home = uci_store_copy("policy-by-name")
    runner = CliRunner()
    base = ["review", "--as-of", "2005-10-01", "--model", str(MODEL), "--database", url]

    refused = runner.invoke(app, base)
    assert refused.exit_code == 2
    said = " ".join(refused.output.split())
    assert "the store holds accounts in TWD but the policy's amounts are in CNY" in said
    assert "Use --policy uci-twd, the policy in TWD." in said

    reviewed = runner.invoke(app, [*base, "--policy", "uci-twd", "--json"])
    assert reviewed.exit_code == 0, reviewed.output
    result = envelope_data(reviewed.stdout)
    assert result["decided"] == 30_000
    assert result["policy_version"].startswith("2026.11.0-uci-twd+")
