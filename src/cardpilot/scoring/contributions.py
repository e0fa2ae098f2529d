"""Where an account's scorecard points came from: per characteristic, the points it earned,
the most it could have earned, and the points lost (the principal-reasons practice of
adverse-action notices ranks characteristics by the points lost against the best attainable).

Pure: a fitted ``ScorecardModel`` and one account's features in, contributions out. The same
bins and points the review scored with, so the points add up to the account's score.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import polars as pl

from cardpilot.scoring.reasons import reason_code, reason_text
from cardpilot.scoring.scorecard import ScorecardModel, with_derived


@dataclass(frozen=True)
class PointContribution:
    """One characteristic of one account's score."""

    characteristic: str
    reason_code: str
    text_zh: str
    text_en: str
    value: Any  # the feature's value (None when missing)
    bin: str  # the bin it fell in, as the model's table names it
    points: int
    best: int  # the most points any bin of the characteristic gives
    lost: int  # best - points

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _text(code: str, locale: str) -> str:
    try:
        return str(reason_text(code, locale))
    except KeyError:
        return code


def point_contributions(model: ScorecardModel, features: pl.DataFrame) -> list[PointContribution]:
    """The first account of ``features``: one contribution per characteristic, the most points
    lost first (ties in the model's own order, the order its reason codes break ties in)."""
    one = features.head(1)
    derived = with_derived(one, model.characteristics)
    columns = model.columns(one)
    points = model.points_matrix(one, columns)[0]
    out: list[tuple[int, int, PointContribution]] = []
    for j, (name, compiled, column) in enumerate(
        zip(model.characteristics, model.compiled.characteristics, columns, strict=True)
    ):
        bins = model.table.filter(pl.col("characteristic") == name).sort("bin_index")
        index = int(compiled.bins(column)[0])
        best = int(compiled.points.max())
        code = reason_code(name)
        value = derived[name][0] if name in derived.columns else None
        contribution = PointContribution(
            characteristic=name,
            reason_code=code,
            text_zh=_text(code, "zh-CN"),
            text_en=_text(code, "en"),
            value=value,
            bin=str(bins["bin"][min(index, bins.height - 1)]),
            points=int(points[j]),
            best=best,
            lost=best - int(points[j]),
        )
        out.append((-contribution.lost, j, contribution))
    return [c for _, _, c in sorted(out, key=lambda t: (t[0], t[1]))]
