"""The simulation on the real UCI data (../shared/data, skipped when absent): ``simulate
--policy uci-twd --against`` a copy whose increase ranges are 10 points higher prints both
policies' exposure, expected loss, revenue, cost and net and the difference; every breakdown
adds up to its total to the minor unit; the back-test sets predicted defaults per grade beside
the October 2005 default flag."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cardpilot.cli import app
from cardpilot.cli.output import envelope_data
from cardpilot.policy.catalogue import shipped_dir
from cardpilot.simulation.economics import FIGURES

from .conftest import raised_increase_ranges

DATA = (
    Path(__file__).resolve().parents[2].parent / "shared" / "data" / "uci_credit_card_default.csv"
)
MODEL = Path(__file__).resolve().parents[1] / "fixtures" / "models" / "uci-scorecard"
KEYS = ("exposure", "expected_loss", "revenue", "cost", "net")
AS_OF_OVERDUE = dt.date(2005, 9, 30)

pytestmark = [
    pytest.mark.realdata,
    pytest.mark.slow,
    pytest.mark.skipif(not DATA.exists(), reason=f"real data absent ({DATA})"),
]


@pytest.fixture(scope="module")
def uci_store(uci_store_copy: Callable[[str], tuple[str, Path]]) -> str:
    url, _home = uci_store_copy("uci-simulation")
    return url


@pytest.fixture(scope="module")
def simulated(uci_store: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("uci-raised")
    against = raised_increase_ranges(shipped_dir() / "uci-twd", folder / "uci-twd-plus10")
    out = folder / "simulation.html"
    result = CliRunner().invoke(
        app,
        [
            "simulate",
            "--policy",
            "uci-twd",
            "--against",
            str(against),
            "--as-of",
            "2005-10-01",
            "--model",
            str(MODEL),
            "--database",
            uci_store,
            "--out",
            str(out),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    payload: dict[str, Any] = envelope_data(result.stdout)
    keep = os.environ.get("CARDPILOT_SIMULATION_OUT")
    if keep:  # the figures and the page, to read
        Path(keep).mkdir(parents=True, exist_ok=True)
        Path(keep, "uci-simulation.json").write_text(json.dumps(payload, indent=1))
        Path(keep, "uci-simulation.html").write_bytes(out.read_bytes())
    return payload


def test_uci_both_policies_and_the_difference_are_printed(simulated: dict[str, Any]) -> None:
    mine, theirs = simulated["policies"]
    assert mine["name"] == "uci-twd"
    assert mine["total"]["accounts"] == 30_000
    for key in KEYS:
        difference = Decimal(mine["total"][key]) - Decimal(theirs["total"][key])
        assert Decimal(simulated["difference"]["total"][key]) == difference
    # Ten points more on every increase: more limit, exposure and expected loss.
    assert Decimal(theirs["total"]["limit_added"]) > Decimal(mine["total"]["limit_added"])
    assert Decimal(simulated["difference"]["total"]["exposure"]) < 0
    assert Decimal(simulated["difference"]["total"]["expected_loss"]) < 0


def test_uci_every_breakdown_adds_up_to_the_total_to_the_minor_unit(
    simulated: dict[str, Any],
) -> None:
    for table in [*simulated["policies"], simulated["difference"]]:
        assert [r["grade"] for r in table["by_grade"]] == ["excellent", "good", "fair", "poor"]
        for key in FIGURES:
            total = Decimal(table["total"][key])
            for column in ("grade", "segment"):
                parts = sum(Decimal(r[key]) for r in table[f"by_{column}"])
                assert parts == total, (key, column)


def test_uci_back_test_names_each_grade_that_misses_and_by_how_much(
    simulated: dict[str, Any],
) -> None:
    backtest = simulated["backtest"]
    assert backtest["label"] == "default_next_month"
    rows = {r["grade"]: r for r in backtest["grades"]}
    assert rows["all"]["accounts"] == 30_000
    assert rows["all"]["observed_defaults"] == 6_636  # the UCI base rate, 22.12 %
    for grade in ("excellent", "good", "fair", "poor"):
        r = rows[grade]
        low, high = (Decimal(v) for v in r["defaults_interval"])
        assert low <= r["observed_defaults"] <= high
        named = any(f"{grade} {side}-predicts" in backtest["verdict"] for side in ("over", "under"))
        assert named == (not r["defaults_within"])
        assert (Decimal(r["defaults_miss"]) == 0) == r["defaults_within"]


def test_uci_overdue_policy_is_priced_on_the_observed_transitions(uci_store: str) -> None:
    from cardpilot.store.db import make_engine

    db = make_engine(uci_store)
    try:
        from cardpilot.jobs.aging import run_aging
        from cardpilot.overdue.loading import load_overdue_policy
        from cardpilot.store.frames import read_portfolio_frames

        policy = load_overdue_policy(shipped_dir() / "uci-twd")
        run_aging(db, read_portfolio_frames(db).statements, AS_OF_OVERDUE, policy)
    finally:
        db.dispose()
    command = ["overdue", "simulate", "--policy", "uci-twd", "--as-of", str(AS_OF_OVERDUE)]
    result = CliRunner().invoke(
        app, [*command, "--model", str(MODEL), "--database", uci_store, "--json"]
    )
    assert result.exit_code == 0, result.output
    payload = envelope_data(result.stdout)
    assert payload["observed"]["transitions"] == 5 * 30_000  # six cycles, five pairs
    rows = payload["policies"][0]["by_treatment"]
    assert {r["risk_segment"] for r in rows} == {"high_risk", "medium_risk", "low_risk", "all"}
    total = rows[-1]
    low, cure, high = (Decimal(total[k]) for k in ("cure_low", "cure", "cure_high"))
    assert low <= cure <= high
    keep = os.environ.get("CARDPILOT_SIMULATION_OUT")
    if keep:
        Path(keep, "uci-overdue-simulation.json").write_text(json.dumps(payload, indent=1))
