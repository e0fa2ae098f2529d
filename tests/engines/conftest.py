"""Engine test fixtures: one Spark session for the whole run (startup is the slow part)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest


def pytest_configure(config: pytest.Config) -> None:
    # Registered here so the engine tests own their marker; CI runs them (make test).
    config.addinivalue_line(
        "markers", "spark: runs PySpark in local mode (needs the spark extra and Java 17)"
    )


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """A quiet local[2] Spark session. Skips when PySpark or Java is missing, unless
    CARDPILOT_REQUIRE_SPARK=1 (CI), where their absence is a failure."""
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
