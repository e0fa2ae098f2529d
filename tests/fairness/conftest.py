"""Fairness test fixtures: the hand-built reviewed store of ``fairness_store``."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fairness_store import build_reviewed_store


@pytest.fixture
def reviewed_store(store_url: str) -> Iterator[str]:
    build_reviewed_store(store_url)
    return store_url
