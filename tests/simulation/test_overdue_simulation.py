"""The overdue policy simulation: transition rates of the store's aging history with counts and
Wilson intervals, and each treatment's expected cures, roll-forwards and write-offs, fees
charged and waived and contact costs, from the overdue decision function (nothing written)."""

from __future__ import annotations

import datetime as dt
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml
from typer.testing import CliRunner

from cardpilot.cli import app
from cardpilot.cli.output import envelope_data
from cardpilot.jobs.aging import run_aging
from cardpilot.jobs.overdue import simulate_treatments, treat_overdue
from cardpilot.overdue.loading import load_overdue_policy
from cardpilot.policy.catalogue import shipped_dir
from cardpilot.simulation.overdue import ALL, expected_outcomes, transition_rates
from cardpilot.store.db import make_engine
from cardpilot.store.frames import read_portfolio_frames
from cardpilot.store.overdue_treatments import read_treatments

CODES = ("current", "M1", "M2", "M7+")
AS_OF = dt.date(2026, 10, 31)


def _transitions(rows: list[tuple[str | None, str, str, int]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={
            "treatment": pl.String(),
            "from_bucket": pl.String(),
            "to_bucket": pl.String(),
            "accounts": pl.Int64(),
        },
        orient="row",
    )


def test_rates_classify_cures_roll_forwards_and_write_offs_with_wilson_intervals() -> None:
    rates = transition_rates(
        _transitions(
            [
                (None, "current", "M1", 50),  # from current: not an overdue outcome
                (None, "M1", "current", 20),
                (None, "M1", "M1", 50),
                (None, "M1", "M2", 20),
                (None, "M2", "M7+", 10),
                (None, "M1", "exited", 10),
            ]
        ),
        CODES,
        ["M7+"],
    )
    m1 = {r["outcome"]: r for r in rates.filter(pl.col("from_bucket") == "M1").to_dicts()}
    assert m1["cure"]["accounts"] == 20
    assert m1["cure"]["of"] == 100
    assert m1["cure"]["rate"] == pytest.approx(0.2)
    assert m1["cure"]["low"] == pytest.approx(0.1333, abs=1e-4)
    assert set(m1) == {"cure", "stay", "roll_forward", "exited"}
    m2 = rates.filter(pl.col("from_bucket") == "M2").to_dicts()
    assert [r["outcome"] for r in m2] == ["write_off"]
    assert set(rates["basis"]) == {ALL}


def _treated(segment: str, n: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "account_id": [f"{segment}{i}" for i in range(n)],
            "bucket": ["M1"] * n,
            "risk_segment": [segment] * n,
            "treatment": ["gentle"] * n,
            "overdue_balance_minor": [10_000] * n,
            "late_fee_minor": [100] * n,
            "penalty_interest_minor": [5] * n,
            "fee_waived_minor": [50] * n,
            "contacts_per_week": [2] * n,
        }
    )


def test_a_treatment_seen_often_enough_is_priced_on_its_own_record() -> None:
    rows = [
        (None, "M1", "current", 10),
        (None, "M1", "M1", 90),
        ("low", "M1", "current", 30),
        ("low", "M1", "M1", 10),
        ("rare", "M1", "current", 5),
    ]
    rates = transition_rates(_transitions(rows), CODES, ["M7+"])
    out = expected_outcomes(
        pl.concat([_treated("low", 10), _treated("rare", 10)]),
        rates,
        contact_cost_minor=20,
        months=1,
    )
    by = {r["risk_segment"]: r for r in out.to_dicts()}
    # low: its own 75 % cure rate (40 observed); rare: 5 observed, the pooled rate.
    assert by["low"]["cure"] == pytest.approx(7.5)
    assert by["low"]["own_rates"] == 10
    pooled = (10 + 30 + 5) / (10 + 90 + 30 + 10 + 5)
    assert by["rare"]["cure"] == pytest.approx(10 * pooled)
    assert by["rare"]["own_rates"] == 0
    assert by["low"]["cure_low"] < by["low"]["cure"] < by["low"]["cure_high"]
    assert by["low"]["fees_charged_minor"] == 10 * 105
    assert by["low"]["fees_waived_minor"] == 10 * 50
    assert by["low"]["contacts"] == 10 * 9  # 2 a week over a month of 4.35 weeks, rounded
    assert by["low"]["contact_cost_minor"] == 10 * 9 * 20


def _waiving(folder: Path, out: Path) -> Path:
    """The overdue policy with every segment but the high-risk one waiving half its fees."""
    shutil.copytree(folder, out)
    data: dict[str, Any] = yaml.safe_load((out / "overdue.yaml").read_text(encoding="utf-8"))
    for segment in data["segments"]:
        if segment["risk_level"] != "high":
            segment["treatment"]["fee_waiver_share"] = 50
    (out / "overdue.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return out


@pytest.fixture
def aged_store(simulation_store: str) -> str:
    db = make_engine(simulation_store)
    try:
        policy = load_overdue_policy()
        run_aging(db, read_portfolio_frames(db).statements, AS_OF, policy)
    finally:
        db.dispose()
    return simulation_store


def test_the_simulation_treats_as_treat_does_and_writes_nothing(
    aged_store: str, scorer: Any
) -> None:
    policy = load_overdue_policy()
    payload = simulate_treatments(
        aged_store, scorer, [("default", policy)], as_of=AS_OF, contact_cost_minor=5
    )
    db = make_engine(aged_store)
    try:
        assert read_treatments(db, AS_OF).height == 0
    finally:
        db.dispose()
    rows = payload["policies"][0]["by_treatment"]
    total = rows[-1]
    assert total["risk_segment"] == "all"
    assert payload["observed"]["transitions"] > 0
    treat_overdue(aged_store, scorer, as_of=AS_OF, policy=policy)
    db = make_engine(aged_store)
    try:
        stored = read_treatments(db, AS_OF)
    finally:
        db.dispose()
    assert total["accounts"] == stored.height
    assert total["fees_waived_minor"] == int(stored["fee_waived_minor"].sum())
    by_segment = stored.group_by("risk_segment").len()
    assert {r["risk_segment"]: r["accounts"] for r in rows[:-1]} == dict(by_segment.iter_rows())


def test_cli_compares_two_overdue_policies(aged_store: str, tmp_path: Path) -> None:
    waiving = _waiving(shipped_dir() / "default", tmp_path / "waiving")
    model = Path(__file__).resolve().parents[1] / "fixtures" / "models" / "uci-scorecard"
    result = CliRunner().invoke(
        app,
        [
            "overdue",
            "simulate",
            "--as-of",
            AS_OF.isoformat(),
            "--against",
            str(waiving),
            "--model",
            str(model),
            "--database",
            aged_store,
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    payload = envelope_data(result.stdout)
    mine, theirs = (p["by_treatment"][-1] for p in payload["policies"])
    assert mine["accounts"] == theirs["accounts"]
    assert Decimal(theirs["fees_waived"]) > Decimal(mine["fees_waived"])
    assert payload["currency"] == "CNY"


def test_an_account_in_a_bucket_never_seen_is_unrated_and_one_seen_is_not() -> None:
    rates = transition_rates(_transitions([(None, "M1", "M1", 40)]), CODES, ["M7+"])
    treated = pl.concat([_treated("low", 3), _treated("low", 2).with_columns(bucket=pl.lit("M2"))])
    row = expected_outcomes(treated, rates, contact_cost_minor=0, months=1).row(0, named=True)
    assert row["unrated"] == 2
    assert row["stay"] == pytest.approx(3.0)
    assert row["cure"] == 0.0
