"""The simulation's predictions set beside what happened, per grade.

For the accounts of a grade with an observed outcome (a 0/1 label such as UCI's October 2005
default flag): predicted defaults ``Σ PD`` beside the observed count with its 95 % Wilson
interval, and predicted losses ``Σ PD × LGD × EAD`` beside the observed ``Σ default × LGD × EAD``
with a 95 % normal-approximation interval of that sum (EAD at the limits the outcome was
observed under: the current ones). A grade whose prediction falls outside the interval misses,
by the distance to the nearer bound.

Chunks hand on sums (``chunk_sums``) so the back-test streams like the simulation.
"""

from __future__ import annotations

import math
from typing import Any

import polars as pl

Z95 = 1.959963984540054  # the two-sided 95 % normal quantile
SUMS = ("accounts", "defaults", "predicted_defaults", "predicted_loss", "observed_loss", "loss_sq")
NONE = "none"


def in_account_order(labels: pl.DataFrame) -> pl.DataFrame:
    """The outcomes (``account_id``, ``label``) sorted by account id, for ``outcomes_within``."""
    return labels.sort("account_id")


def outcomes_within(labels: pl.DataFrame, ids: pl.Series) -> pl.DataFrame:
    """The rows of ``labels`` (``in_account_order``) whose account ids lie between the least and
    the greatest of ``ids``: every outcome a chunk of those accounts can join to. A join with
    the whole portfolio's outcomes would hash all of them again for every chunk."""
    known = ids.drop_nulls()
    if not known.len():
        return labels.clear()
    column = labels.get_column("account_id")
    start = column.search_sorted(str(known.min()), "left")
    end = column.search_sorted(str(known.max()), "right")
    return labels.slice(start, end - start)


def chunk_sums(scored: pl.DataFrame) -> pl.DataFrame:
    """Per grade: accounts with a label, observed defaults, Σ PD, predicted and observed loss
    (minor units) and Σ (default × loss)² (for the loss interval). ``scored``: ``grade``, ``pd``,
    ``label`` (0/1, null: no outcome) and ``expected_loss`` with ``loss_if_default`` (LGD × EAD),
    both in minor units."""
    known = scored.filter(pl.col("label").is_not_null())
    observed = pl.col("label").cast(pl.Int64) * pl.col("loss_if_default")
    return (
        known.with_columns(pl.col("grade").fill_null(NONE), _observed=observed)
        .group_by("grade")
        .agg(
            pl.len().cast(pl.Int64).alias("accounts"),
            pl.col("label").cast(pl.Int64).sum().alias("defaults"),
            pl.col("pd").fill_null(0.0).sum().alias("predicted_defaults"),
            pl.col("expected_loss").sum().alias("predicted_loss"),
            pl.col("_observed").sum().alias("observed_loss"),
            (pl.col("_observed").cast(pl.Float64) ** 2).sum().alias("loss_sq"),
        )
    )


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion ``k / n``."""
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (max(0.0, centre - half), min(1.0, centre + half))


def _miss(predicted: float, low: float, high: float) -> float:
    """How far ``predicted`` lies outside [low, high] (above: positive, below: negative)."""
    if predicted > high:
        return predicted - high
    if predicted < low:
        return predicted - low
    return 0.0


def _loss_interval(total: float, squares: float, n: int) -> tuple[float, float]:
    """95 % interval of a sum of ``n`` observed per-account losses (normal approximation)."""
    if n < 2:
        return (total, total)
    mean = total / n
    variance = max(0.0, (squares - n * mean * mean) / (n - 1))
    half = Z95 * math.sqrt(variance / n) * n
    return (max(0.0, total - half), total + half)


def backtest_rows(sums: pl.DataFrame, grade_order: tuple[str, ...]) -> list[dict[str, Any]]:
    """One row per grade (the policy's order, then others) and a final ``all`` row."""
    if not sums.height:
        return []
    by_grade = sums.group_by("grade").agg(pl.col(c).sum() for c in SUMS)
    keys = [g for g in grade_order if g in set(by_grade["grade"])]
    keys += sorted(set(by_grade["grade"]) - set(keys))
    rows = [_row(g, by_grade.filter(pl.col("grade") == g)) for g in keys]
    return [*rows, _row("all", by_grade)]


def _row(grade: str, part: pl.DataFrame) -> dict[str, Any]:
    s = {c: part[c].sum() for c in SUMS}
    n, k = int(s["accounts"]), int(s["defaults"])
    low, high = wilson(k, n)
    predicted = float(s["predicted_defaults"])
    loss_low, loss_high = _loss_interval(float(s["observed_loss"]), float(s["loss_sq"]), n)
    predicted_loss = int(s["predicted_loss"])
    miss = _miss(predicted, low * n, high * n)
    # Without an observed default the loss interval is a point: no verdict on the loss.
    loss_miss = _miss(predicted_loss, loss_low, loss_high) if k else None
    return {
        "grade": grade,
        "accounts": n,
        "observed_defaults": k,
        "observed_rate": k / n if n else None,
        "predicted_defaults": round(predicted, 1),
        "predicted_rate": predicted / n if n else None,
        "defaults_interval": [round(low * n, 1), round(high * n, 1)],
        "defaults_within": miss == 0.0,
        "defaults_miss": round(miss, 1),
        "defaults_miss_pct": round(100 * miss / k, 1) if k else None,
        "predicted_loss_minor": predicted_loss,
        "observed_loss_minor": int(s["observed_loss"]),
        "loss_interval_minor": [round(loss_low), round(loss_high)],
        "loss_within": None if loss_miss is None else loss_miss == 0.0,
        "loss_miss_minor": None if loss_miss is None else round(loss_miss),
    }


def verdict(rows: list[dict[str, Any]]) -> str:
    """One sentence: every grade within its interval, or which grades miss and by how much."""
    graded = [r for r in rows if r["grade"] != "all"]
    misses = [r for r in graded if not r["defaults_within"]]
    if not misses:
        return (
            "predicted defaults fall within the 95 % interval of the observed ones in every grade"
        )
    parts = []
    for r in misses:
        side = "over" if r["defaults_miss"] > 0 else "under"
        lo, hi = r["defaults_interval"]
        share = "" if r["defaults_miss_pct"] is None else f", {abs(r['defaults_miss_pct'])} %"
        parts.append(
            f"{r['grade']} {side}-predicts: {r['predicted_defaults']} predicted against "
            f"{r['observed_defaults']} observed (95 % interval {lo}-{hi}), "
            f"{abs(r['defaults_miss'])} defaults beyond the interval{share} of the observed"
        )
    return "; ".join(parts)
