"""Customer test fixtures: the committed application scorecard (trained by
``cardpilot model train --family application`` on the credit_data reference split) and a
store made per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from store_templates import StoreTemplates

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "models"
APPLICATION_MODEL = FIXTURES / "application-scorecard"
UCI_MODEL = FIXTURES / "uci-scorecard"
CREDIT_DATA = (
    Path(__file__).resolve().parents[2].parent / "shared" / "data" / "credit_data_applications.csv"
)


@pytest.fixture(scope="session")
def application_model():  # type: ignore[no-untyped-def]
    from cardpilot.scoring.registry import load_model_dir

    return load_model_dir(APPLICATION_MODEL)


@pytest.fixture(scope="session")
def credit_data() -> Path:
    if not CREDIT_DATA.exists():
        pytest.skip(f"real data absent: {CREDIT_DATA} (see ../shared/data/README.md)")
    return CREDIT_DATA


@pytest.fixture
def sqlite_store(tmp_path: Path) -> str:
    from cardpilot.store.db import upgrade

    url = f"sqlite:///{tmp_path / 'store.db'}"
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def portfolio_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic portfolio (CNY, twelve cycles), generated once."""
    import datetime as dt

    from cardpilot.synth.generate import GenerateOptions, generate_portfolio

    out = tmp_path_factory.mktemp("customer-portfolio") / "portfolio"
    generate_portfolio(
        GenerateOptions(
            accounts=300,
            out=out,
            seed=5,
            months=12,
            transactions=False,
            end_cycle=dt.date(2026, 10, 31),
            chunk_size=300,
        )
    )
    return out


@pytest.fixture
def portfolio_store(portfolio_dir: Path, store_templates: StoreTemplates, tmp_path: Path) -> str:
    """A SQLite store with the synthetic portfolio imported: a copy of the import made once
    per run, its keys in ``tmp_path`` as if the test had imported it."""

    def build(url: str, home: Path) -> None:
        from cardpilot.config import Settings
        from cardpilot.jobs.importing import import_portfolio

        settings = Settings(home=home)
        import_portfolio(portfolio_dir, layout="generic", database_url=url, settings=settings)

    return store_templates.sqlite_copy("customer", build, tmp_path)


@pytest.fixture(scope="session")
def calibrated_policy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default policy (CNY) with the score scale and grade bands the uci-twd policy
    calibrated to the UCI scorecard, so the fixture scorecard spreads accounts over the grades."""
    import shutil

    import yaml

    from cardpilot.policy.catalogue import shipped_dir

    folder = shutil.copytree(shipped_dir() / "default", tmp_path_factory.mktemp("p") / "cal")
    twd = yaml.safe_load((shipped_dir() / "uci-twd" / "limits.yaml").read_text("utf-8"))
    limits = yaml.safe_load((folder / "limits.yaml").read_text("utf-8"))
    limits["grading"]["score_scale"] = twd["grading"]["score_scale"]
    for grade, calibrated in zip(limits["grades"], twd["grades"], strict=True):
        grade["score"] = calibrated["score"]
    (folder / "limits.yaml").write_text(yaml.safe_dump(limits, allow_unicode=True), "utf-8")
    return folder
