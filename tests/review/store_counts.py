"""Counting rows of a store in the review tests."""

from __future__ import annotations

from sqlalchemy import text

from cardpilot.store.db import make_engine


def count_rows(url: str, table: str) -> int:
    """The rows of ``table`` in the store at ``url``."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one())
    finally:
        engine.dispose()
