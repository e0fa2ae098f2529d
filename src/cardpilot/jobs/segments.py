"""The two segment jobs: fit a clustering and profile it, or profile a saved one
(``cardpilot segments cluster`` / ``profile``), on the store's portfolio or a UCI file.

Both write into one folder:

* ``clustering.json`` — the fitted clustering (``cluster`` only);
* ``assignments.parquet`` — ``account_id, cluster, cluster_code, cluster_name_en,
  cluster_name_zh, policy_segment``, one row per account;
* ``profile.json`` and ``profile.html`` — the profile report.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import polars as pl
from sqlalchemy import Engine

from cardpilot.domain import progress
from cardpilot.ingest.uci import read_uci
from cardpilot.policy.schema import Policy
from cardpilot.policy.segments import segment_expr
from cardpilot.reports.segments import write_profile_report
from cardpilot.segments.clustering import (
    DEFAULT_K_RANGE,
    DEFAULT_SEED,
    ClusteringError,
    ClusterModel,
    assign_clusters,
    fit_clustering,
    save_clustering,
)
from cardpilot.segments.profile import cluster_profile
from cardpilot.segments.source import DEFAULT_LABEL, SegmentInput, input_from_frames, outcome
from cardpilot.store.frames import read_portfolio_frames

CLUSTERING_FILE = "clustering.json"


def read_uci_input(path: Path, as_of: dt.date | None = None) -> SegmentInput:
    """The portfolio of a UCI file, as a clustering reads it."""
    return input_from_frames(read_uci(path), as_of, f"uci:{path}")


def read_store_input(engine: Engine, as_of: dt.date | None = None) -> SegmentInput:
    """The store's portfolio, as a clustering reads it."""
    url = engine.url.render_as_string(hide_password=True)
    return input_from_frames(read_portfolio_frames(engine), as_of, f"store:{url}")


class Scorer(Protocol):
    version: str

    def score(self, features: pl.DataFrame) -> pl.DataFrame: ...


@dataclass(frozen=True)
class SegmentRun:
    model: ClusterModel
    profile: dict[str, Any]
    files: dict[str, str]
    seconds: float

    def as_json(self) -> dict[str, Any]:
        return {
            "clustering_version": self.model.version,
            "currency": self.model.currency,
            "k": self.model.k,
            "k_selection": self.model.k_selection,
            "seed": self.model.seed,
            "fit_rows": self.model.fit_rows,
            **{k: v for k, v in self.profile.items() if k not in ("clustering_version", "k")},
            "files": self.files,
            "seconds": round(self.seconds, 3),
        }


def cluster_portfolio(
    data: SegmentInput,
    policy: Policy,
    out: Path,
    *,
    k: int | None = None,
    k_range: tuple[int, int] = DEFAULT_K_RANGE,
    seed: int = DEFAULT_SEED,
    max_fit_rows: int = 100_000,
    scorer: Scorer | None = None,
    label: str = DEFAULT_LABEL,
) -> SegmentRun:
    """Fit a clustering on ``data``, save it in ``out`` and write its profile report there."""
    started = time.perf_counter()
    model = fit_clustering(
        data.features,
        k=k,
        k_range=k_range,
        seed=seed,
        max_fit_rows=max_fit_rows,
        currency=data.currency,
        as_of=data.as_of,
        source=data.source,
    )
    progress.stage("profiling segments and writing the report", None)
    saved = save_clustering(model, out / CLUSTERING_FILE)
    return _profile(model, data, policy, out, scorer, label, started, {"clustering": str(saved)})


def profile_portfolio(
    model: ClusterModel,
    data: SegmentInput,
    policy: Policy,
    out: Path,
    *,
    scorer: Scorer | None = None,
    label: str = DEFAULT_LABEL,
) -> SegmentRun:
    """Assign ``data``'s accounts to a saved clustering and write the profile report."""
    if model.currency is not None and model.currency != data.currency:
        raise ClusteringError(
            f"clustering {model.version} was fitted on {model.currency} amounts; the accounts "
            f"are in {data.currency}: fit one on them with cardpilot segments cluster"
        )
    return _profile(model, data, policy, out, scorer, label, time.perf_counter(), {})


def _profile(
    model: ClusterModel,
    data: SegmentInput,
    policy: Policy,
    out: Path,
    scorer: Scorer | None,
    label: str,
    started: float,
    files: dict[str, str],
) -> SegmentRun:
    features = data.features
    assigned = assign_clusters(model, features)
    scores = scorer.score(features).select("account_id", "score", "pd") if scorer else None
    profile = cluster_profile(
        model,
        features,
        assigned,
        outcome=outcome(data.labels, label),
        scores=scores,
        policy=policy,
        label=label,
        as_of=data.as_of.isoformat(),
        model_version=scorer.version if scorer else None,
    )
    out.mkdir(parents=True, exist_ok=True)
    assignments = out / "assignments.parquet"
    ids = [c.id for c in model.clusters]

    def named(values: list[str], alias: str) -> pl.Expr:
        return pl.col("cluster").replace_strict(ids, values, return_dtype=pl.String).alias(alias)

    assigned.with_columns(
        named([c.code for c in model.clusters], "cluster_code"),
        named([c.name_en for c in model.clusters], "cluster_name_en"),
        named([c.name_zh for c in model.clusters], "cluster_name_zh"),
        features.select(segment_expr(policy.limits).alias("policy_segment")).to_series(),
    ).write_parquet(assignments)
    report_json = out / "profile.json"
    report_json.write_text(
        json.dumps(profile, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    report_html = write_profile_report(profile, out / "profile.html", currency=data.currency)
    files |= {
        "assignments": str(assignments),
        "profile_json": str(report_json),
        "profile_html": str(report_html),
    }
    return SegmentRun(model, profile, files, time.perf_counter() - started)
