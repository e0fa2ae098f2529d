"""Review test fixtures: a small synthetic portfolio (generated once), imported per test into
the ``store_url`` store (SQLite and PostgreSQL), and the test-only stand-in scorer."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from standin import StandInScorer

END_CYCLE = dt.date(2026, 10, 31)
ACCOUNTS = 1_200


@pytest.fixture(scope="session")
def portfolio_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from cardpilot.synth.generate import GenerateOptions, generate_portfolio

    out = tmp_path_factory.mktemp("review-portfolio") / "portfolio"
    generate_portfolio(
        GenerateOptions(
            accounts=ACCOUNTS,
            out=out,
            seed=11,
            months=12,
            transactions=False,
            end_cycle=END_CYCLE,
            chunk_size=500,
        )
    )
    return out


@pytest.fixture
def loaded_store(store_url: str, portfolio_dir: Path, tmp_path: Path) -> str:
    """``store_url`` with the synthetic portfolio imported."""
    from cardpilot.config import Settings
    from cardpilot.jobs.importing import import_portfolio

    import_portfolio(
        portfolio_dir, layout="generic", database_url=store_url, settings=Settings(home=tmp_path)
    )
    return store_url


@pytest.fixture
def sqlite_store(portfolio_dir: Path, tmp_path: Path) -> str:
    """A SQLite file store with the synthetic portfolio imported."""
    from cardpilot.config import Settings
    from cardpilot.jobs.importing import import_portfolio
    from cardpilot.store.db import open_store

    url = f"sqlite:///{tmp_path / 'store.db'}"
    import_portfolio(
        portfolio_dir, layout="generic", database_url=url, settings=Settings(home=tmp_path)
    )
    open_store(url).dispose()
    return url


@pytest.fixture
def scorer() -> StandInScorer:
    return StandInScorer()
