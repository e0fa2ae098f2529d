"""The grade report (issue #5 item 2): observed default rate per grade.

The policy's cut-offs are only right if the observed default rate rises monotonically from the
best grade to the worst on real outcomes; this report is how a risk analyst checks that before
a policy goes live, and again whenever the model or the portfolio changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import polars as pl
import pyarrow as pa

from cardpilot.policy.limits import grade_expr
from cardpilot.policy.schema import Policy

REPORT_SCHEMA: dict[str, pl.DataType] = {
    "grade": pl.String(),
    "label_zh": pl.String(),
    "label_en": pl.String(),
    "accounts": pl.Int64(),
    "share": pl.Float64(),
    "defaults": pl.Int64(),
    "default_rate": pl.Float64(),
    "mean_pd": pl.Float64(),
    "score_min": pl.Int64(),
    "score_max": pl.Int64(),
}


def grade_report(
    scored: pa.Table | pl.DataFrame, policy: Policy, *, label: str = "label"
) -> pl.DataFrame:
    """One row per policy grade, best first: accounts, share, observed defaults and default
    rate (``label`` is 1 for a default, 0 otherwise), mean predicted PD, observed score range.

    Rows without a score (or PD, basis ``pd``) or without a label are left out. Grades no
    account falls in still appear, with zero accounts and null rates.
    """
    frame = scored if isinstance(scored, pl.DataFrame) else pl.from_arrow(scored)
    assert isinstance(frame, pl.DataFrame)
    lp = policy.limits
    basis = "score" if lp.grading.basis == "score" else "pd"
    for column in (basis, label):
        if column not in frame.columns:
            raise ValueError(f"scored table lacks column {column!r} for the grade report")
    cols = [pl.col(basis)]
    for extra in ("score", "pd"):
        if extra != basis:
            cols.append(pl.col(extra) if extra in frame.columns else pl.lit(None).alias(extra))
    data = (
        frame.select(*cols, pl.col(label).cast(pl.Int64).alias("_label"))
        .with_columns(pl.col("score").cast(pl.Int64), pl.col("pd").cast(pl.Float64))
        .filter(pl.col(basis).is_not_null() & pl.col("_label").is_not_null())
        .with_columns(grade_expr(lp).alias("grade"))
    )
    total = max(data.height, 1)
    stats = data.group_by("grade").agg(
        pl.len().cast(pl.Int64).alias("accounts"),
        pl.col("_label").sum().cast(pl.Int64).alias("defaults"),
        pl.col("pd").mean().alias("mean_pd"),
        pl.col("score").min().alias("score_min"),
        pl.col("score").max().alias("score_max"),
    )
    order = pl.DataFrame(
        {
            "grade": [g.code for g in lp.grades],
            "label_zh": [g.label.zh_cn for g in lp.grades],
            "label_en": [g.label.en for g in lp.grades],
        }
    )
    report = order.join(stats, on="grade", how="left", maintain_order="left").with_columns(
        pl.col("accounts").fill_null(0),
        pl.col("defaults").fill_null(0),
    )
    report = report.with_columns(
        (pl.col("accounts") / total).alias("share"),
        pl.when(pl.col("accounts") > 0)
        .then(pl.col("defaults") / pl.col("accounts"))
        .otherwise(None)
        .alias("default_rate"),
    )
    return report.select([pl.col(n).cast(t) for n, t in REPORT_SCHEMA.items()])


def default_rate_is_monotonic(report: pl.DataFrame) -> bool:
    """True when the observed default rate strictly rises from the best grade to the worst
    (grades without accounts are skipped; fewer than two populated grades prove nothing)."""
    rates = [r for r in report["default_rate"].to_list() if r is not None]
    return len(rates) >= 2 and all(a < b for a, b in pairwise(rates))


def calibrate_score_cutoffs(policy: Policy, scores: pl.Series, shares: Sequence[float]) -> Policy:
    """The policy with score cut-offs at quantiles of ``scores`` (basis ``score`` only).

    ``scores``: the model's scores on the TRAINING split (never the test split, which is kept
    to check the result with :func:`grade_report`). ``shares``: the share of accounts each
    grade should hold, best grade first, summing to 1. The score scale becomes the observed
    range rounded out to tens, so the placement within a grade spreads over real scores.
    Everything else is unchanged; the new content hash marks the calibrated version.
    """
    from cardpilot.policy.loading import policy_from_data

    lp = policy.limits
    if lp.grading.basis != "score":
        raise ValueError("calibrate_score_cutoffs needs grading.basis: score")
    if len(shares) != len(lp.grades) or abs(sum(shares) - 1.0) > 1e-9:
        raise ValueError(f"give one share per grade ({len(lp.grades)}), summing to 1")
    values = scores.drop_nulls().cast(pl.Float64)
    if values.len() == 0:
        raise ValueError("no scores to calibrate on")
    low = int(float(values.min()) // 10 * 10)  # type: ignore[arg-type]
    high = -int(-float(values.max()) // 10 * 10)  # type: ignore[arg-type]
    high = max(high, low + 10 * len(lp.grades))
    mins: list[int] = []
    above = 0.0
    for share in shares[:-1]:
        above += share
        cut = round(float(values.quantile(1.0 - above, "nearest") or low))
        ceiling = (mins[-1] - 1) if mins else high
        mins.append(max(min(cut, ceiling), low + len(lp.grades) - len(mins) - 1))
    data = lp.model_dump(mode="json", by_alias=True)
    data["grading"]["score_scale"] = {"min": low, "max": high}
    top = high
    for i, grade in enumerate(data["grades"]):
        bottom = mins[i] if i < len(mins) else low
        grade["score"] = {"min": bottom, "max": top}
        top = bottom - 1
    return policy_from_data(data, policy.reasons.model_dump(mode="json", by_alias=True))
