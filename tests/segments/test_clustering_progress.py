"""Clustering tells each k it tries."""

from __future__ import annotations

import polars as pl

from cardpilot.domain import progress
from cardpilot.segments.clustering import fit_clustering


def test_clustering_reports_each_k_it_tries(sample_features: pl.DataFrame) -> None:
    heard = progress.Recording()
    with progress.reporting(heard):
        fit_clustering(sample_features, k_range=(3, 5), max_fit_rows=2_000)
    name, total = heard.of("stage")[0]  # type: ignore[misc]
    assert (
        name
        == f"clustering: k-means for k = 3..5 on {min(sample_features.height, 2000):,} accounts"
    )
    assert total == 3
    assert heard.of("note") == ["k = 3", "k = 4", "k = 5"]
    assert sum(heard.of("advance")) == 3  # type: ignore[arg-type]
