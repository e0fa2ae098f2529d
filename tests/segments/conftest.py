"""Segment test fixtures: a small UCI-layout portfolio of four behaviours, written by a seeded
generator (so the store tests run without the real data), and its behaviour features."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest

AS_OF = dt.date(2005, 10, 1)
# Behaviour → accounts; the generator's archetypes, each with its own default probability.
ARCHETYPES = {"dormant": 60, "transactor": 120, "revolver": 140, "delinquent": 80}
DEFAULT_PROBABILITY = {"dormant": 0.05, "transactor": 0.05, "revolver": 0.2, "delinquent": 0.6}


def _row(account: int, kind: str, rng: np.random.Generator) -> list[int]:
    limit = int(rng.choice([50_000, 100_000, 200_000, 300_000]))
    # UCI order: repayment status Sep..Apr, bills Sep..Apr, payments Sep..Apr.
    if kind == "dormant":
        status, bills, paid = [-2] * 6, [0] * 6, [0] * 6
    elif kind == "transactor":
        bills = [int(rng.uniform(0.02, 0.12) * limit) for _ in range(6)]
        paid = [*bills[1:], bills[-1]]  # each payment settles the previous bill
        status = [-1] * 6
    elif kind == "revolver":
        bills = [int(rng.uniform(0.5, 0.8) * limit) for _ in range(6)]
        paid = [int(rng.uniform(0.03, 0.08) * b) for b in [*bills[1:], bills[-1]]]
        status = [0] * 6
    else:
        bills = [int(rng.uniform(0.85, 1.0) * limit) for _ in range(6)]
        paid = [0 if rng.random() < 0.6 else int(0.02 * b) for b in bills]
        status = [int(s) for s in rng.integers(1, 4, size=6)]
    y = int(rng.random() < DEFAULT_PROBABILITY[kind])
    sex, education, marriage, age = int(rng.integers(1, 3)), 2, int(rng.integers(1, 4)), 35
    return [account, limit, sex, education, marriage, age, *status, *bills, *paid, y]


def write_uci_sample(path: Path, seed: int = 7) -> dict[str, str]:
    """Write the sample; returns account id → archetype."""
    rng = np.random.default_rng(seed)
    kinds = [k for k, n in ARCHETYPES.items() for _ in range(n)]
    rng.shuffle(kinds)
    header = ["ID", *(f"X{i}" for i in range(1, 24)), "Y"]
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for i, kind in enumerate(kinds, start=1):
            writer.writerow(_row(i, kind, rng))
    return {str(i): kind for i, kind in enumerate(kinds, start=1)}


@pytest.fixture(scope="session")
def sample_csv(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    path = tmp_path_factory.mktemp("segments") / "sample_uci.csv"
    return path, write_uci_sample(path)


@pytest.fixture(scope="session")
def sample_features(sample_csv: tuple[Path, dict[str, str]]) -> pl.DataFrame:
    from cardpilot.ingest.uci import read_uci
    from cardpilot.scoring.features import behaviour_features

    return behaviour_features(read_uci(sample_csv[0]), AS_OF)


@pytest.fixture(scope="session")
def archetype(sample_csv: tuple[Path, dict[str, str]]) -> dict[str, str]:
    return sample_csv[1]
