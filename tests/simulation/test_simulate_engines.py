"""The simulation on either engine: Spark makes the decisions with the one ``decide_limits``
(through ``mapInArrow``) and the figures come out exactly as the local engine's on the same
store; an engine that does not exist is refused, by the job and by the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cardpilot.cli import app
from cardpilot.jobs.simulate import NamedPolicy, SimulationError, simulate_portfolio
from cardpilot.policy.assumptions import load_assumptions
from cardpilot.policy.catalogue import shipped_dir
from cardpilot.policy.loading import load_policy

from .conftest import AS_OF, raised_increase_ranges

DEFAULT = shipped_dir() / "default"
TIMINGS = ("seconds", "stage_seconds", "stage_cpu_seconds")


def _simulate(url: str, scorer: Any, against: Path, **kw: Any) -> dict[str, Any]:
    payload: dict[str, Any] = simulate_portfolio(
        url,
        scorer,
        NamedPolicy("default", load_policy(DEFAULT)),
        load_assumptions(DEFAULT),
        against=NamedPolicy(str(against), load_policy(against)),
        as_of=AS_OF,
        chunk_rows=300,
        **kw,
    ).as_json()
    return {k: v for k, v in payload.items() if k not in TIMINGS}


@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning")
def test_spark_simulation_gives_the_local_figures_on_the_same_store(
    simulation_store: str, scorer: Any, spark: Any, tmp_path: Path
) -> None:
    raised = raised_increase_ranges(DEFAULT, tmp_path / "raised")
    local = _simulate(simulation_store, scorer, raised)
    remote = _simulate(simulation_store, scorer, raised, engine="spark", spark=spark)
    assert (local.pop("engine"), remote.pop("engine")) == ("local", "spark")
    assert local["policies"][0]["total"]["changed"] > 0
    assert local["policies"][1]["total"]["changed"] > 0
    assert remote == local


def test_an_unknown_engine_is_refused_by_the_job(simulation_store: str, scorer: Any) -> None:
    with pytest.raises(SimulationError, match=r"unknown engine 'dask'; expected one of local"):
        simulate_portfolio(
            simulation_store,
            scorer,
            NamedPolicy("default", load_policy(DEFAULT)),
            load_assumptions(DEFAULT),
            engine="dask",
        )


def test_an_unknown_engine_is_refused_by_the_command(
    simulation_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CARDPILOT_LOCALE", "en")
    result = CliRunner().invoke(
        app, ["simulate", "--database", simulation_store, "--engine", "dask"]
    )
    assert result.exit_code == 2
    assert "--engine 'dask': use one of local, spark" in result.output
