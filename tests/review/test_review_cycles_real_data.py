"""Reviews across cycles on the real UCI data: a review decides an account only on statements
newer than its last decision, and a decrease trigger counts overdue months since the last limit
change.

import → review as of 2005-10-01 → review as of 2006-01-01 with no new statement (nothing
decided) → one more statement for 100 accounts (tests/fixtures/uci-further-cycle, October 2005:
each account's September bill and payment again, its delay one month longer when it was late)
→ review again: only those 100 are decided. Through the CLI, as a bank runs it. Skipped when
../shared/data is absent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest
from store_counts import count_rows
from typer.testing import CliRunner

from cardpilot.cli import app
from cardpilot.cli.output import envelope_data
from cardpilot.store.db import make_engine
from cardpilot.store.limit_decisions import read_decisions

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
MODEL = FIXTURES / "models" / "uci-scorecard"
POLICY = FIXTURES / "policies" / "uci-twd-2026.11"
FURTHER_CYCLE = FIXTURES / "uci-further-cycle"

pytestmark = [pytest.mark.realdata, pytest.mark.slow]


def _run(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    result = CliRunner().invoke(app, [*args, "--json"], env=env)
    assert result.exit_code == 0, (args, result.output)
    payload: dict[str, Any] = envelope_data(result.stdout)
    return payload


def _review(as_of: str, url: str, env: dict[str, str]) -> dict[str, Any]:
    args = ["review", "--as-of", as_of, "--model", str(MODEL), "--policy", str(POLICY)]
    return _run([*args, "--database", url], env)


@pytest.fixture(scope="module")
def cycles(uci_path: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    home = tmp_path_factory.mktemp("cycles")
    url = f"sqlite:///{home / 'uci.db'}"
    env = {"CARDPILOT_HOME": str(home)}
    _run(["import", "--format", "uci", str(uci_path), "--database", url], env)
    runs: dict[str, Any] = {"url": url, "first": _review("2005-10-01", url, env)}
    runs["history_after_first"] = count_rows(url, "limit_history")
    runs["again"] = _review("2006-01-01", url, env)
    runs["history_after_again"] = count_rows(url, "limit_history")
    runs["import"] = _run(
        ["import", str(FURTHER_CYCLE), "--format", "generic", "--database", url], env
    )
    runs["further"] = _review("2006-01-01", url, env)
    engine = make_engine(url)
    try:
        runs["decisions"] = read_decisions(engine)
    finally:
        engine.dispose()
    return runs


def test_a_first_review_of_the_real_data_decides_every_account(cycles):
    assert cycles["first"]["decided"] == 30_000
    assert cycles["first"]["skipped"] == 0


def test_a_review_with_no_statement_since_the_last_decides_nothing_and_says_why(cycles):
    again = cycles["again"]
    assert again["cycle_id"] == "2006-H1"
    assert again["decided"] == 0
    assert again["skipped_no_new_evidence"] == 30_000
    assert again["skipped_within_cycle"] == 0
    assert cycles["history_after_again"] == cycles["history_after_first"]


def test_only_the_accounts_with_a_further_statement_are_decided_again(cycles):
    assert cycles["import"]["statements"] == 100
    further = cycles["further"]
    assert further["decided"] == 100
    assert further["skipped_no_new_evidence"] == 29_900
    decided = cycles["decisions"].filter(pl.col("cycle_id") == "2006-H1")
    assert sorted(decided["account_id"].cast(pl.Int64)) == list(range(1, 101))


def test_a_decrease_trigger_counts_only_overdue_months_since_the_last_limit_change(cycles):
    decisions = cycles["decisions"]
    first = decisions.filter(pl.col("cycle_id") == "2005-H2").select(
        "account_id", pl.col("action").alias("first_action")
    )
    second = decisions.filter(pl.col("cycle_id") == "2006-H1").join(first, on="account_id")
    changed = second.filter(pl.col("first_action") != "keep")
    # One statement since the change: at most one overdue month counts, so the triggers of
    # three (excellent) and two (good) consecutive overdue months cannot fire again.
    recut = changed.filter(
        (pl.col("action") == "decrease") & pl.col("grade").is_in(["excellent", "good"])
    )
    assert recut.height == 0
    late_again = changed.filter(pl.col("consecutive_overdue_months") >= 3)
    assert late_again.height > 0
    # Account 1 (20,000 → 10,000 NT$ in the first run, poor) is late for a fourth month in
    # October: cut once more on that new month, which the poor grade's trigger (any overdue
    # month) acts on; the first cut's months are not counted again.
    account_1 = second.filter(pl.col("account_id") == "1").row(0, named=True)
    assert (account_1["old_limit_minor"], account_1["new_limit_minor"]) == (1_000_000, 500_000)
    assert account_1["grade"] == "poor"
