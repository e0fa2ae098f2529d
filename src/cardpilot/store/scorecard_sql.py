"""The scorecard as one SQL expression, so any SQL engine can score a feature table: a store
(in-database scoring) or an analyst's DuckDB. Written beside a scorecard in its model folder
(``scorecard.sql``).

Each characteristic is a ``CASE`` over its bins (numeric bins are ``[lower, upper)``, exactly as
in Python; NULL goes to the missing bin; an unseen category scores like missing); the score is
their sum. Split points are written with ``repr`` so every engine reads the same double.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from cardpilot.scoring.scorecard import CONDITIONAL, ScorecardModel, derived_sql


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def characteristic_sql(model: ScorecardModel, name: str) -> str:
    rows = model.table.filter(pl.col("characteristic") == name).sort("bin_index")
    # A conditional characteristic is computed from its inputs in place.
    col = f"({derived_sql(name)})" if name in CONDITIONAL else _ident(name)
    missing = rows.filter(pl.col("is_missing")).get_column("points").item()
    regular = rows.filter(~pl.col("is_missing"))
    parts = [f"CASE WHEN {col} IS NULL THEN {missing}"]
    if regular.get_column("categories").null_count() == 0:
        for cats, pts in zip(
            regular.get_column("categories").to_list(),
            regular.get_column("points").to_list(),
            strict=True,
        ):
            values = ", ".join(_literal(c) for c in cats)
            parts.append(f"WHEN {col} IN ({values}) THEN {pts}")
        parts.append(f"ELSE {missing} END")
    else:
        uppers = regular.get_column("upper").to_list()
        points = regular.get_column("points").to_list()
        for upper, pts in zip(uppers[:-1], points[:-1], strict=True):
            parts.append(f"WHEN {col} < {float(upper)!r} THEN {pts}")
        parts.append(f"ELSE {points[-1]} END")
    return " ".join(parts)


def scorecard_sql(model: ScorecardModel) -> str:
    """``(CASE ... END) + (CASE ... END) + ...`` — the integer score of one row."""
    return "\n+ ".join(f"({characteristic_sql(model, n)})" for n in model.characteristics)


def write_scorecard_sql(model: object, folder: Path) -> Path | None:
    """Write a scorecard's expression to ``folder / "scorecard.sql"`` (its model folder);
    other model families have none (None)."""
    if not isinstance(model, ScorecardModel):
        return None
    path = folder / "scorecard.sql"
    path.write_text(scorecard_sql(model) + "\n", encoding="utf-8")
    return path
