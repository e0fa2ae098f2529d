"""A trivial scorer for tests only, following the scoring interface (docs/CONTRACTS.md "Scores").

Production code calls the registry's champion or ``load_model_dir``; these tests need a model
whose scores are deterministic, spread over every grade and cheap.
"""

from __future__ import annotations

import polars as pl

MODEL_VERSION = "standin-test-1"


class StandInScorer:
    """Points fall with overdue history and utilisation; PD is a logistic of the points."""

    model_version = MODEL_VERSION

    def score(self, features: pl.DataFrame) -> pl.DataFrame:
        f = features
        overdue = pl.col("max_months_overdue_6m").fill_null(0).cast(pl.Float64)
        util = pl.col("utilisation_avg_6m").fill_null(0.5).clip(0.0, 1.5)
        pay = pl.col("payment_ratio_avg_6m").fill_null(0.0).clip(0.0, 1.0)
        points = (760 - 60 * overdue - 180 * util + 120 * pay).round(0).clip(300, 900)
        reasons = pl.concat_list(
            pl.when(overdue > 0).then(pl.lit("RC_OVERDUE_RECENT")),
            pl.when(util > 0.7).then(pl.lit("RC_HIGH_UTILISATION")),
            pl.when(pay < 0.2).then(pl.lit("RC_LOW_PAYMENT_RATIO")),
        ).list.drop_nulls()
        return f.select(
            "account_id",
            points.cast(pl.Int32).alias("score"),
            (1 / (1 + ((points - 560) / 40).exp())).alias("pd"),
            reasons.alias("reason_codes"),
            pl.lit(MODEL_VERSION).alias("model_version"),
        )
