"""Simulation fixtures: a small synthetic portfolio imported once into a SQLite store, the
review tests' stand-in scorer, and a copy of a policy with every increase range 10 points
higher."""

from __future__ import annotations

import datetime as dt
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parents[1] / "review"))

from standin import StandInScorer

END_CYCLE = dt.date(2026, 10, 31)
AS_OF = dt.date(2026, 11, 1)
ACCOUNTS = 800


def raised_increase_ranges(folder: Path, out: Path, points: int = 10) -> Path:
    """A copy of the policy folder ``folder`` whose grades' increase ranges are ``points``
    percentage points higher (at most 100), under a version of its own."""
    shutil.copytree(folder, out)
    limits: dict[str, Any] = yaml.safe_load((out / "limits.yaml").read_text(encoding="utf-8"))
    for grade in limits["grades"]:
        band = grade.get("increase_pct")
        if band:
            band["min"] = min(100, band["min"] + points)
            band["max"] = min(100, band["max"] + points)
    limits["version"] = f"{limits['version']}-plus{points}"
    (out / "limits.yaml").write_text(yaml.safe_dump(limits, allow_unicode=True), encoding="utf-8")
    return out


@pytest.fixture(scope="session")
def simulation_portfolio(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from cardpilot.synth.generate import GenerateOptions, generate_portfolio

    out = tmp_path_factory.mktemp("simulation-portfolio") / "portfolio"
    generate_portfolio(
        GenerateOptions(
            accounts=ACCOUNTS,
            out=out,
            seed=26,
            months=6,
            transactions=False,
            end_cycle=END_CYCLE,
            chunk_size=400,
        )
    )
    return out


@pytest.fixture(scope="session")
def simulation_store_file(
    simulation_portfolio: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    from cardpilot.config import Settings
    from cardpilot.jobs.importing import import_portfolio
    from cardpilot.store.db import open_store

    home = tmp_path_factory.mktemp("simulation-store")
    store = home / "store.db"
    url = f"sqlite:///{store}"
    import_portfolio(
        simulation_portfolio, layout="generic", database_url=url, settings=Settings(home=home)
    )
    open_store(url).dispose()
    return store


@pytest.fixture
def simulation_store(simulation_store_file: Path, tmp_path: Path) -> str:
    """A fresh copy of the imported store (a test may review it)."""
    target = tmp_path / "store.db"
    shutil.copy(simulation_store_file, target)
    return f"sqlite:///{target}"


@pytest.fixture
def scorer() -> StandInScorer:
    return StandInScorer()
