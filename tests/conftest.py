"""Shared fixtures. ``store_url`` runs a store test on SQLite and on PostgreSQL.

PostgreSQL is the server on loopback named by ``CARDPILOT_TEST_POSTGRES_URL`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``). Each test session creates a fresh
uniquely named database there and drops it at the end; each test gets an empty schema. When
the server is unreachable the PostgreSQL cases are skipped with the reason, unless
``CARDPILOT_REQUIRE_POSTGRES=1`` (CI), where that is a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url

from cardpilot.store.db import make_engine
from store_templates import Build, StoreTemplates

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


# Under pytest-xdist (``make test`` runs two workers, ``--dist loadgroup``) a worker runs whole
# groups. A file is a group, so its module-scoped fixtures are made once; the tests of a costly
# session-scoped fixture are one group across files, so that fixture is too (one Spark session,
# one training run, one run of each real-data scenario).
SHARED_SESSION_FIXTURES = {
    "spark": "spark",
    "trained": "uci-models",
    "review_cycles": "uci-scenarios",
    "plans_scenario": "uci-scenarios",
    "watch_scenario": "uci-scenarios",
}


# First: xdist's worker turns the marks into the ``@group`` suffix of the node ids the scheduler
# reads in its own hook, which, registered before this file, would otherwise run before this one.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        names = getattr(item, "fixturenames", ())
        shared = [group for name, group in SHARED_SESSION_FIXTURES.items() if name in names]
        group = shared[0] if shared else item.nodeid.split("::", 1)[0]
        item.add_marker(pytest.mark.xdist_group(group))


def _admin_url() -> URL:
    return make_url(os.environ.get("CARDPILOT_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL))


def _libpq(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_database_url() -> Iterator[URL]:
    """A fresh database on the loopback PostgreSQL server for this test session."""
    import psycopg

    admin = _admin_url()
    required = os.environ.get("CARDPILOT_REQUIRE_POSTGRES") == "1"
    try:
        conn = psycopg.connect(_libpq(admin), autocommit=True, connect_timeout=3)
    except psycopg.Error as exc:
        where = f"{admin.host}:{admin.port or 5432}"
        message = f"PostgreSQL not reachable at {where} ({str(exc).strip().splitlines()[0]})"
        if required:
            pytest.fail(f"{message}; CARDPILOT_REQUIRE_POSTGRES=1 makes this a failure")
        pytest.skip(f"{message}; set CARDPILOT_TEST_POSTGRES_URL to run the PostgreSQL cases")
    name = f"cardpilot_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.set(drivername="postgresql+psycopg", database=name)
    finally:
        with psycopg.connect(_libpq(admin), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _empty_postgres(url: URL) -> None:
    import psycopg

    with psycopg.connect(_libpq(url), autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
        conn.execute("CREATE SCHEMA public")


@pytest.fixture
def postgres_store_url(postgres_database_url: URL) -> str:
    """The URL of an empty store on PostgreSQL only (an empty schema), for its own behaviour."""
    _empty_postgres(postgres_database_url)
    return postgres_database_url.render_as_string(hide_password=False)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty store: a SQLite file, or an empty schema on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    url: URL = request.getfixturevalue("postgres_database_url")
    _empty_postgres(url)
    return url.render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def store_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StoreTemplates]:
    # The workers of one pytest-xdist run share the parent of their temporary folders (that
    # run's own): the SQLite templates built there are built once for all of them.
    shared = None
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = tmp_path_factory.getbasetemp().parent / "store-templates"
    templates = StoreTemplates(tmp_path_factory.mktemp("store-templates"), _admin_url(), shared)
    yield templates
    templates.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_copy(
    request: pytest.FixtureRequest, store_templates: StoreTemplates, tmp_path: Path
) -> Iterator[Callable[[str, Build], str]]:
    """``copy(name, build)``: the URL of a fresh copy of a store built once per session by
    ``build(url, home)``, on SQLite (``tmp_path/store.db``) and on PostgreSQL (a database of its
    own); ``tmp_path`` gets the build's home files (its keys), as if the test had built it."""
    made: list[str] = []

    def copy(name: str, build: Build) -> str:
        if request.param == "sqlite":
            return store_templates.sqlite_copy(name, build, tmp_path)
        server: URL = request.getfixturevalue("postgres_database_url")
        made.append(store_templates.postgres_copy(name, build, tmp_path, server))
        return made[-1]

    yield copy
    for url in made:
        store_templates.drop(url)


# --- the real UCI data and models trained on it, once per test session -------------------

UCI_PATH = (
    Path(__file__).resolve().parents[1].parent / "shared" / "data" / "uci_credit_card_default.csv"
)


@pytest.fixture(scope="session")
def uci_path() -> Path:
    if not UCI_PATH.exists():
        pytest.skip(f"real data absent: {UCI_PATH} (see ../shared/data/README.md)")
    return UCI_PATH


def _uci_importer(path: Path) -> Build:
    def build(url: str, home: Path) -> None:
        from cardpilot.config import Settings
        from cardpilot.jobs.importing import import_portfolio

        import_portfolio(path, layout="uci", database_url=url, settings=Settings(home=home))

    return build


@pytest.fixture(scope="session")
def uci_store_copy(
    uci_path: Path, store_templates: StoreTemplates, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], tuple[str, Path]]:
    """``copy(name)``: a fresh SQLite copy of the UCI file imported once per session (as
    ``cardpilot import --format uci`` imports it); its URL and its home folder (the import's
    keys in it). Every real-data test that starts from the imported file starts from a copy."""

    def copy(name: str) -> tuple[str, Path]:
        home = tmp_path_factory.mktemp(name)
        return store_templates.sqlite_copy("uci", _uci_importer(uci_path), home), home

    return copy


@pytest.fixture(scope="session")
def uci_reviewed_copy(
    uci_path: Path, store_templates: StoreTemplates, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], tuple[str, Path]]:
    """``copy(name)``: as ``uci_store_copy``, the store reviewed as of 2005-10-01 by ``cardpilot
    review`` with the shipped uci-twd policy and the fixture scorecard, once per session."""
    from typer.testing import CliRunner

    from cardpilot.cli import app

    root = Path(__file__).resolve().parents[1]
    model = root / "tests" / "fixtures" / "models" / "uci-scorecard"
    policy = root / "src" / "cardpilot" / "policies" / "uci-twd"

    def review(url: str, home: Path) -> None:
        store_templates.sqlite_copy("uci", _uci_importer(uci_path), home)
        args = ["review", "--as-of", "2005-10-01", "--model", str(model), "--policy", str(policy)]
        result = CliRunner().invoke(
            app, [*args, "--database", url, "--json"], env={"CARDPILOT_HOME": str(home)}
        )
        assert result.exit_code == 0, result.output

    def copy(name: str) -> tuple[str, Path]:
        home = tmp_path_factory.mktemp(name)
        return store_templates.sqlite_copy("uci_reviewed", review, home), home

    return copy


@pytest.fixture(scope="session")
def uci_read(uci_path: Path):  # type: ignore[no-untyped-def]
    """The UCI file as ``cardpilot.ingest.uci.read_uci`` reads it (frames and labels), read
    once per session; its frames are shared, so a test derives new ones rather than mutating."""
    from cardpilot.ingest.uci import read_uci

    return read_uci(uci_path)


@pytest.fixture(scope="session")
def uci_training(uci_read):  # type: ignore[no-untyped-def]
    from cardpilot.scoring.training import training_data

    return training_data(uci_read, uci_read.labels)


@pytest.fixture(scope="session")
def trained(uci_training):  # type: ignore[no-untyped-def]
    """Both families on the reference split, trained once for every test that needs a model;
    the GBM with a quicker schedule than production."""
    from cardpilot.scoring.gbm import GbmParams
    from cardpilot.scoring.training import train_models

    fast = GbmParams(learning_rate=0.1, folds=2, max_rounds=400, early_stopping_rounds=30)
    return train_models(uci_training, gbm_params=fast, source="test")


@pytest.fixture(scope="session")
def uci_model_dir(trained, tmp_path_factory: pytest.TempPathFactory) -> Path:  # type: ignore[no-untyped-def]
    """The trained models as ``cardpilot model train --out DIR`` writes them."""
    from cardpilot.scoring.registry import save_model_dir

    out = tmp_path_factory.mktemp("uci-models")
    for family, t in trained.items():
        save_model_dir(t.model, t.metadata, out / family)
    return out


@pytest.fixture(scope="session")
def spark():  # type: ignore[no-untyped-def]
    """One quiet local[2] Spark session for the whole run (start-up is the slow part).
    Skips when PySpark or Java is missing, unless CARDPILOT_REQUIRE_SPARK=1 (CI), where their
    absence is a failure."""
    import shutil

    required = os.environ.get("CARDPILOT_REQUIRE_SPARK") == "1"
    missing = None
    try:
        import pyspark  # noqa: F401
    except ImportError:
        missing = "pyspark is not installed (uv sync --extra spark)"
    if missing is None and shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        missing = "java is not on PATH (Spark needs Java 17)"
    if missing:
        if required:
            pytest.fail(missing)
        pytest.skip(missing)
    from cardpilot.engines.spark import local_spark_session

    session = local_spark_session("local[2]", "cardpilot-tests")
    yield session
    session.stop()


# An id a spreadsheet would run as a formula (OWASP "CSV Injection").
FORMULA_ID = "=cmd|' /C calc'!A0"


@pytest.fixture
def formula_account():  # type: ignore[no-untyped-def]
    """Copies a store's first account (and its statements) under ``FORMULA_ID``; returns it."""

    def copy(url: str) -> str:
        copy_account(url, FORMULA_ID)
        return FORMULA_ID

    return copy


def copy_account(url: str, new_id: str) -> None:
    """A copy of the store's first account (and its statements) under ``new_id``."""
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            source = conn.execute(text("SELECT MIN(account_id) FROM accounts")).scalar_one()
            ids = {"new": new_id, "src": source}
            conn.execute(
                text(
                    "INSERT INTO accounts (account_id, customer_id, currency, credit_limit_minor,"
                    " open_date, status) SELECT :new, customer_id, currency, credit_limit_minor,"
                    " open_date, status FROM accounts WHERE account_id = :src"
                ),
                ids,
            )
            columns = (
                "cycle_date, due_date, credit_limit_minor, statement_balance_minor,"
                " minimum_due_minor, amount_paid_minor, purchases_minor, cash_advances_minor,"
                " repayment_status, days_past_due"
            )
            conn.execute(
                text(
                    f"INSERT INTO statements (account_id, {columns}) SELECT :new, {columns}"
                    " FROM statements WHERE account_id = :src"
                ),
                ids,
            )
    finally:
        engine.dispose()


@pytest.fixture
def english(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The command line in English, for tests that check the English wording (the zh-CN
    wording: tests/cli/test_zh_cn.py)."""
    from cardpilot.config import get_settings

    monkeypatch.setenv("CARDPILOT_LOCALE", "en")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
