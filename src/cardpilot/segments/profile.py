"""The profile of a clustering over a portfolio: what each cluster is, and how it compares.

Per cluster: accounts and share; mean and median of the key behaviour features (spending,
limit, utilisation, payment ratio, revolving, inactive and overdue months); the observed
default rate where outcome labels exist; the mean score and PD when a model scored the
accounts; and the policy segments of its members (a crosstab).

Each cluster is mapped to its **nearest policy segment**: the segment most of its members are
in (``policy_segment``, with the share that agrees; ties go to the segment listed first in the
policy). ``profile_segment`` says which segment the policy's own rules give the cluster's
median member (the median of every feature the rules read), which tells whether the typical
member and the majority agree.

Figures are plain JSON values: money in integer minor units (rounded to the unit), ratios and
months as floats rounded to 6 places, rates as fractions. Statistics ignore nulls.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from cardpilot.policy.schema import Policy
from cardpilot.policy.segments import segment_expr, segment_features
from cardpilot.scoring.features import feature_spec
from cardpilot.segments.clustering import PROFILE_FEATURES, ClusterModel

_DIGITS = 6


def _is_money(name: str) -> bool:
    return feature_spec(name).unit == "minor units"


def _value(name: str, value: Any) -> int | float | None:
    if value is None:
        return None
    return round(float(value)) if _is_money(name) else round(float(value), _DIGITS)


def _aggregations(features: list[str], labelled: bool, scored: bool) -> list[pl.Expr]:
    exprs: list[pl.Expr] = [pl.len().alias("accounts")]
    for name in features:
        exprs += [
            pl.col(name).cast(pl.Float64).mean().alias(f"{name}:mean"),
            pl.col(name).cast(pl.Float64).median().alias(f"{name}:median"),
        ]
    if labelled:
        exprs += [
            pl.col("defaulted").count().alias("labelled"),
            pl.col("defaulted").cast(pl.Int64).sum().alias("defaults"),
        ]
    if scored:
        exprs += [
            pl.col("score").cast(pl.Float64).mean().alias("score_mean"),
            pl.col("pd").cast(pl.Float64).mean().alias("pd_mean"),
        ]
    return exprs


def _figures(row: Mapping[str, Any], features: list[str], total: int) -> dict[str, Any]:
    n = int(row["accounts"])
    out: dict[str, Any] = {
        "accounts": n,
        "share": round(n / total, _DIGITS) if total else None,
        "features": {
            name: {
                "mean": _value(name, row[f"{name}:mean"]),
                "median": _value(name, row[f"{name}:median"]),
            }
            for name in features
        },
    }
    if "labelled" in row:
        labelled, defaults = int(row["labelled"]), int(row["defaults"] or 0)
        out |= {
            "labelled": labelled,
            "defaults": defaults,
            "default_rate": round(defaults / labelled, _DIGITS) if labelled else None,
        }
    if "score_mean" in row:
        score, pd = row["score_mean"], row["pd_mean"]
        out |= {
            "score_mean": None if score is None else round(float(score), 2),
            "pd_mean": None if pd is None else round(float(pd), _DIGITS),
        }
    return out


def _median_members(table: pl.DataFrame, policy: Policy) -> pl.DataFrame:
    """One row per cluster holding the median of every feature the segment rules read."""
    needed = sorted(segment_features(policy.limits))
    medians = [
        pl.col(n).cast(pl.Float64).median().alias(n)
        if n in table.columns
        else pl.lit(None, pl.Float64).alias(n)
        for n in needed
    ]
    return table.group_by("cluster").agg(medians).sort("cluster")


def _policy_mapping(table: pl.DataFrame, policy: Policy) -> dict[str, Any]:
    order = [s.code for s in policy.limits.segments]
    rank = {code: i for i, code in enumerate(order)}
    counts = (
        table.with_columns(segment_expr(policy.limits).alias("policy_segment"))
        .group_by("cluster", "policy_segment")
        .len()
    )
    per_cluster: dict[int, dict[str, int]] = {}
    for cluster, segment, n in counts.iter_rows():
        per_cluster.setdefault(int(cluster), dict.fromkeys(order, 0))[str(segment)] = int(n)
    typical = _median_members(table, policy).with_columns(
        segment_expr(policy.limits).alias("profile_segment")
    )
    profile_segment = dict(zip(typical["cluster"], typical["profile_segment"], strict=True))
    mapping: dict[int, dict[str, Any]] = {}
    agree = 0
    for cluster, by_segment in per_cluster.items():
        nearest = max(by_segment, key=lambda s: (by_segment[s], -rank[s]))
        members = sum(by_segment.values())
        agree += by_segment[nearest]
        mapping[cluster] = {
            "policy_segment": nearest,
            "policy_segment_share": round(by_segment[nearest] / members, _DIGITS),
            "profile_segment": profile_segment.get(cluster),
            "segments": by_segment,
        }
    return {
        "order": order,
        "clusters": mapping,
        "agreement": round(agree / table.height, _DIGITS) if table.height else None,
    }


def cluster_profile(
    model: ClusterModel,
    features: pl.DataFrame,
    assignments: pl.DataFrame,
    *,
    outcome: pl.DataFrame | None = None,
    scores: pl.DataFrame | None = None,
    policy: Policy | None = None,
    label: str | None = None,
    as_of: str | None = None,
    model_version: str | None = None,
) -> dict[str, Any]:
    """The profile figures as one JSON-ready dict (see the module docstring)."""
    table = assignments.select("account_id", "cluster").join(features, on="account_id", how="left")
    labelled = outcome is not None
    scored = scores is not None
    if outcome is not None:
        table = table.join(outcome.select("account_id", "defaulted"), on="account_id", how="left")
    if scores is not None:
        table = table.join(scores.select("account_id", "score", "pd"), on="account_id", how="left")
    shown = [n for n in PROFILE_FEATURES if n in table.columns]
    aggs = _aggregations(shown, labelled, scored)
    total = table.height
    grouped = {
        int(r["cluster"]): r for r in table.group_by("cluster").agg(aggs).iter_rows(named=True)
    }
    mapping = _policy_mapping(table, policy) if policy is not None else None
    clusters = []
    for c in model.clusters:
        row = grouped.get(c.id)
        figures = (
            _figures(row, shown, total)
            if row is not None
            else _figures({"accounts": 0, **_empty(shown, labelled, scored)}, shown, total)
        )
        entry: dict[str, Any] = {
            "id": c.id,
            "code": c.code,
            "name_en": c.name_en,
            "name_zh": c.name_zh,
            **figures,
        }
        if mapping is not None:
            entry |= mapping["clusters"].get(
                c.id,
                {
                    "policy_segment": None,
                    "policy_segment_share": None,
                    "profile_segment": None,
                    "segments": dict.fromkeys(mapping["order"], 0),
                },
            )
        clusters.append(entry)
    overall = _figures(table.select(aggs).row(0, named=True), shown, total)
    out: dict[str, Any] = {
        "clustering_version": model.version,
        "k": model.k,
        "as_of": as_of,
        "accounts": total,
        "features": {n: feature_spec(n).unit for n in shown},
        "clustered_on": model.features,
        "label": label if labelled else None,
        "model_version": model_version if scored else None,
        "clusters": clusters,
        "overall": overall,
    }
    if mapping is not None and policy is not None:
        out |= {
            "policy_version": policy.version,
            "policy_segments": mapping["order"],
            "agreement": mapping["agreement"],
        }
    return out


def _empty(features: list[str], labelled: bool, scored: bool) -> dict[str, Any]:
    """The aggregation row of a cluster no account fell into."""
    row: dict[str, Any] = {}
    for name in features:
        row[f"{name}:mean"] = row[f"{name}:median"] = None
    if labelled:
        row |= {"labelled": 0, "defaults": 0}
    if scored:
        row |= {"score_mean": None, "pd_mean": None}
    return row
