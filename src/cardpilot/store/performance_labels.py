"""Observed outcomes in the store (``performance_labels``): which there are, and their values."""

from __future__ import annotations

import polars as pl
from sqlalchemy import Engine, text

from cardpilot.store.frame_reads import query_frame


def label_names(db: Engine) -> list[str]:
    """The outcomes the store holds (``default_next_month`` and the like), sorted."""
    with db.connect() as conn:
        return sorted(
            str(r[0]) for r in conn.execute(text("SELECT DISTINCT label FROM performance_labels"))
        )


def read_label(db: Engine, label: str) -> pl.DataFrame:
    """``account_id`` and ``label`` (0/1) of one outcome."""
    with db.connect() as conn:
        frame = query_frame(
            conn,
            "SELECT account_id, value FROM performance_labels WHERE label = :label",
            {"label": label},
            {"account_id": pl.String(), "label": pl.Boolean()},
        )
    return frame.with_columns(pl.col("label").cast(pl.Int64))
