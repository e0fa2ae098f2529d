"""Without ``--as-of`` every command works as of the day after the store's latest statement
cycle (``batch.dates.default_as_of``): 2005-10-01 for this store, whose last cycle is 09-30."""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

import cardpilot.cli.review
from cardpilot.cli import app
from cardpilot.cli.output import envelope_data

DEFAULT_DAY = "2005-10-01"


def _data(*args: str) -> Any:
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return envelope_data(result.stdout)


def test_aging_treatment_reminders_story_and_plans_default_to_the_day_after_the_last_cycle(
    overdue_store: str, scorer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cardpilot.cli.review, "load_scorer", lambda model, family: scorer)
    db = ["--database", overdue_store]
    assert _data("aging", "--no-store", *db)["as_of"] == DEFAULT_DAY
    assert _data("overdue", "treat", *db)["as_of"] == DEFAULT_DAY
    assert _data("overdue", "remind", *db)["as_of"] == DEFAULT_DAY
    assert _data("plan", "advance", *db)["as_of"] == DEFAULT_DAY
    story = _data("account", "show", "a-low", *db)
    assert story["as_of"] == DEFAULT_DAY
