"""Shared fixtures: the real UCI data (skipped cleanly when absent), trained once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
UCI_PATH = REPO_ROOT.parent / "shared" / "data" / "uci_credit_card_default.csv"


@pytest.fixture(scope="session")
def uci_path() -> Path:
    if not UCI_PATH.exists():
        pytest.skip(f"real data absent: {UCI_PATH} (see ../shared/data/README.md)")
    return UCI_PATH


@pytest.fixture(scope="session")
def uci_training(uci_path: Path):  # type: ignore[no-untyped-def]
    from cardpilot.ingest.uci import read_uci
    from cardpilot.scoring.training import training_data

    read = read_uci(uci_path)
    return training_data(read, read.labels)


@pytest.fixture(scope="session")
def trained(uci_training):  # type: ignore[no-untyped-def]
    """Both families on the reference split; the GBM with a quicker schedule for tests."""
    from cardpilot.scoring.gbm import GbmParams
    from cardpilot.scoring.training import train_models

    fast = GbmParams(learning_rate=0.1, folds=2, max_rounds=400, early_stopping_rounds=30)
    return train_models(uci_training, gbm_params=fast, source="test")
