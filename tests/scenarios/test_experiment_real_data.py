"""A champion/challenger test on the real UCI data: the fixture ``uci-twd`` policy against a
copy whose increase ranges are 10 points higher, on 20 % of the accounts, at the review as of
2005-10-01; then the October statements of accounts 1-100 (tests/fixtures/uci-further-cycle)
and the report on that later cycle and the October 2005 default flag. Through the CLI, as a
bank runs it. Skipped when ../shared/data is absent."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from uci_scenarios import FIXTURE_POLICY, FURTHER_CYCLE, MODEL, run_cli

from experiment_policies import challenger_policy

pytestmark = [pytest.mark.realdata, pytest.mark.slow]

TEST = "uci-plus10"


@pytest.fixture(scope="module")
def experiment(
    uci_store_copy: Callable[[str], tuple[str, Path]], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    url, home = uci_store_copy("experiment")
    env = {"CARDPILOT_HOME": str(home)}
    challenger = challenger_policy(tmp_path_factory.mktemp("uci-challenger"), source=FIXTURE_POLICY)
    db = ["--database", url]
    out: dict[str, Any] = {}
    out["create"] = run_cli(
        [
            "experiments",
            "create",
            TEST,
            "--champion",
            str(FIXTURE_POLICY),
            "--challenger",
            str(challenger),
            "--share",
            "0.2",
            "--start",
            "2005-10-01",
            *db,
        ],
        env,
    )
    review = ["review", "--as-of", "2005-10-01", "--model", str(MODEL), "--experiment", TEST]
    out["review"] = run_cli([*review, *db], env)
    out["import"] = run_cli(["import", str(FURTHER_CYCLE), "--format", "generic", *db], env)
    out["report"] = run_cli(["experiments", "report", TEST, *db], env)
    out["promote"] = run_cli(["experiments", "promote", TEST, *db], env)
    out["audit"] = run_cli(["audit", "verify", *db], env)
    return out


def _outcome(report: dict[str, Any], metric: str) -> dict[str, Any]:
    found: dict[str, Any] = next(o for o in report["outcomes"] if o["metric"] == metric)
    return found


def test_the_review_splits_thirty_thousand_accounts_at_the_requested_share(experiment):
    review = experiment["review"]
    assert review["decided"] == 30_000
    assert review["experiment"] == TEST
    arms = review["by_arm"]
    assert arms["champion"] + arms["challenger"] == 30_000
    assert abs(arms["challenger"] / 30_000 - 0.2) < 0.01


def test_the_challengers_higher_ranges_raise_its_increases(experiment):
    change = _outcome(experiment["report"], "limit_change")
    assert float(change["difference"]["low"]) > 0  # the challenger adds more limit per account
    assert change["significant"] is True


def test_the_report_covers_the_later_cycle_and_the_default_flag(experiment):
    report = experiment["report"]
    assert report["arms"]["champion"] + report["arms"]["challenger"] == 30_000
    overdue = _outcome(report, "overdue_next_cycles")
    assert overdue["champion"]["accounts"] + overdue["challenger"]["accounts"] == 100
    default = _outcome(report, "label:default_next_month")
    assert default["champion"]["accounts"] + default["challenger"]["accounts"] == 30_000
    # The October 2005 flag predates any effect of the review: the arms must not differ.
    assert default["significant"] is False
    assert float(default["mde"]) < 0.03


def test_promotion_is_audited_and_the_chain_holds(experiment):
    assert experiment["promote"]["status"] == "promoted"
    assert experiment["audit"]["ok"] is True
