"""Reading a store back in the review tests: row counts, stored decisions."""

from __future__ import annotations

import polars as pl
from sqlalchemy import text

from cardpilot.store.db import make_engine
from cardpilot.store.limit_decisions import read_decisions


def count_rows(url: str, table: str) -> int:
    """The rows of ``table`` in the store at ``url``."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one())
    finally:
        engine.dispose()


def stored_decisions(url: str) -> pl.DataFrame:
    """Every stored decision of the store at ``url`` (``read_decisions``)."""
    engine = make_engine(url)
    try:
        return read_decisions(engine)
    finally:
        engine.dispose()
