"""A policy's simulated figures added up: by grade, by segment and in total, and the difference
between two policies. Every figure is an integer sum of the per-account figures
(``simulation.economics``), so each breakdown adds up to its total to the minor unit."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from cardpilot.domain.money import format_major
from cardpilot.simulation.economics import COUNTS, FIGURES, MONEY

NONE = "none"  # the key of accounts without a grade (no score) or segment
BREAKDOWNS = ("grade", "segment")
Figures = dict[str, int]


@dataclass(frozen=True)
class PolicyFigures:
    """One policy's figures: ``cells`` holds ``FIGURES`` per (grade, segment)."""

    role: str  # policy | against
    name: str  # as given on the command line, or "current limits"
    policy_version: str | None
    cells: pl.DataFrame
    grade_order: tuple[str, ...] = ()
    segment_order: tuple[str, ...] = ()

    def total(self) -> Figures:
        return _sums(self.cells)

    def by(self, column: str) -> dict[str, Figures]:
        """Figures per grade or segment, in the policy's order (then any other, then none)."""
        order = self.grade_order if column == "grade" else self.segment_order
        keyed = self.cells.with_columns(pl.col(column).fill_null(NONE))
        present = set(keyed[column].to_list())
        keys = [k for k in order if k in present]
        keys += sorted(present - set(keys) - {NONE}) + ([NONE] if NONE in present else [])
        return {k: _sums(keyed.filter(pl.col(column) == k)) for k in keys}


def _sums(cells: pl.DataFrame) -> Figures:
    if not cells.height:
        return dict.fromkeys(FIGURES, 0)
    row = cells.select(pl.col(f).sum().cast(pl.Int64) for f in FIGURES).row(0, named=True)
    return {f: int(row[f] or 0) for f in FIGURES}


def combine(parts: Iterable[pl.DataFrame]) -> pl.DataFrame:
    """The (grade, segment) sums of many chunks as one frame of sums."""
    frames = [p for p in parts if p.height]
    if not frames:
        schema = {"grade": pl.String(), "segment": pl.String()}
        return pl.DataFrame(schema={**schema, **dict.fromkeys(FIGURES, pl.Int64())})
    whole = pl.concat(frames, how="vertical_relaxed")
    return whole.group_by("grade", "segment").agg(pl.col(f).sum() for f in FIGURES)


def minus(a: Figures, b: Figures) -> Figures:
    return {f: a.get(f, 0) - b.get(f, 0) for f in FIGURES}


def breakdown(figures: PolicyFigures) -> dict[str, Any]:
    """``total``, ``by_grade`` and ``by_segment`` in integers (money in minor units)."""
    return {
        "total": figures.total(),
        "by_grade": figures.by("grade"),
        "by_segment": figures.by("segment"),
    }


def difference(policy: PolicyFigures, against: PolicyFigures) -> dict[str, Any]:
    """``policy − against``, in total and for every grade and segment either of them has."""
    out: dict[str, Any] = {"total": minus(policy.total(), against.total())}
    for column in BREAKDOWNS:
        mine, theirs = policy.by(column), against.by(column)
        keys = list(mine) + [k for k in theirs if k not in mine]
        zero = dict.fromkeys(FIGURES, 0)
        out[f"by_{column}"] = {k: minus(mine.get(k, zero), theirs.get(k, zero)) for k in keys}
    return out


def figures_json(figures: Figures) -> dict[str, Any]:
    """Counts as integers, money as exact decimal strings in major units (``"1234.56"``)."""
    return {f: figures[f] if f in COUNTS else format_major(figures[f]) for f in FIGURES}


def breakdown_json(parts: dict[str, Any]) -> dict[str, Any]:
    return {
        "total": figures_json(parts["total"]),
        **{
            f"by_{c}": [{c: k, **figures_json(v)} for k, v in parts[f"by_{c}"].items()]
            for c in BREAKDOWNS
        },
    }


def money_fields() -> Sequence[str]:
    return MONEY
