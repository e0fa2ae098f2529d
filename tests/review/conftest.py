"""Review test fixtures: a small synthetic portfolio (generated once), imported once per
session and copied for each test (SQLite and PostgreSQL), and the test-only stand-in scorer."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from standin import StandInScorer

from store_templates import Build, StoreTemplates

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


def _importer(portfolio: Path) -> Build:
    def build(url: str, home: Path) -> None:
        from cardpilot.config import Settings
        from cardpilot.jobs.importing import import_portfolio
        from cardpilot.store.db import open_store

        import_portfolio(
            portfolio, layout="generic", database_url=url, settings=Settings(home=home)
        )
        open_store(url).dispose()

    return build


@pytest.fixture
def loaded_store(store_copy: Callable[..., str], portfolio_dir: Path) -> str:
    """A store (SQLite and PostgreSQL) with the synthetic portfolio imported: a copy of the
    import made once per session, its keys in ``tmp_path`` as if the test had imported it."""
    return store_copy("review", _importer(portfolio_dir))


@pytest.fixture
def sqlite_store(store_templates: StoreTemplates, portfolio_dir: Path, tmp_path: Path) -> str:
    """A SQLite file store (``tmp_path/store.db``) with the synthetic portfolio imported."""
    return store_templates.sqlite_copy("review", _importer(portfolio_dir), tmp_path)


@pytest.fixture
def scorer() -> StandInScorer:
    return StandInScorer()
