"""Fit, save, load and apply a behaviour clustering (KMeans on transformed features).

How accounts become points (every step is saved, so assigning reproduces the fit exactly):

1. the columns of ``features`` (default ``CLUSTER_FEATURES``: spending, utilisation, payment
   ratio, revolving, inactive and overdue months) — never a protected attribute
   (``cardpilot.scoring.protected``);
2. nulls filled: a payment ratio is null when nothing was owed, which is read as 1 (nothing
   left unpaid); any other null gets the fit sample's median;
3. money (minor units) through a signed ``log1p``, so a few very large spenders do not
   stretch the axis; then every column is clipped to the 0.5 %–99.5 % quantiles of the fit
   sample and standardised (mean 0, standard deviation 1).

KMeans (``N_INIT`` restarts from the given seed) is fitted on a seeded sample of at most
``max_fit_rows`` accounts taken in ``account_id`` order, so the result does not depend on the
input's row order. Without ``k``, every k in ``k_range`` is fitted and the one with the best
silhouette (on a seeded sample) wins; ties go to the smaller k. Clusters are then renumbered
by spending level and named from their profiles (``naming``).

Assignment is the nearest centroid, computed in NumPy over the whole table at once; ties go
to the lower id.

A fitted clustering is saved as one readable JSON file (no pickles), with a version that is a
hash of its content: the same data, features and seed give the same version.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from cardpilot.domain import progress
from cardpilot.scoring.features import FEATURE_NAMES, feature_spec
from cardpilot.scoring.protected import DEFAULT_PROTECTED, assert_not_protected
from cardpilot.segments.naming import NamingRules, cluster_names, order_key

FORMAT = "cardpilot.segments.clustering/1"

CLUSTER_FEATURES: tuple[str, ...] = (
    "spend_avg_6m_minor",
    "utilisation_avg_6m",
    "payment_ratio_avg_6m",
    "revolving_months_6m",
    "inactive_months_6m",
    "overdue_count_6m",
    "max_months_overdue_6m",
)
# Features the profiles (and so the names and the order) describe, beside the clustered ones.
PROFILE_FEATURES: tuple[str, ...] = (*CLUSTER_FEATURES, "credit_limit_minor")
# A null payment ratio means nothing was owed: nothing was left unpaid.
NULL_MEANS: dict[str, float] = {"payment_ratio_avg_6m": 1.0}
DEFAULT_SEED = 20051001
DEFAULT_K_RANGE = (3, 8)
CLIP_QUANTILES = (0.005, 0.995)
N_INIT = 4  # KMeans restarts per k; more changed nothing on the UCI data and cost time

FloatArray = npt.NDArray[np.float64]


class ClusteringError(ValueError):
    """A clustering that cannot be fitted, loaded or applied: says what and what to do."""


@dataclass(frozen=True)
class FeatureTransform:
    """How one feature column becomes one standardised coordinate."""

    name: str
    log: bool  # signed log1p (money)
    fill: float  # replaces null
    low: float  # clip bounds, after the log
    high: float
    mean: float  # standardisation, after the clip
    scale: float


@dataclass(frozen=True)
class Cluster:
    id: int  # 1 = lowest spending
    code: str  # "c1"
    name_en: str
    name_zh: str
    centroid: list[float]  # standardised coordinates, in the order of the transforms
    fit_accounts: int
    profile: dict[str, dict[str, float | None]]  # of the fit sample: feature → mean, median


@dataclass(frozen=True)
class ClusterModel:
    version: str
    method: str
    seed: int
    k: int
    transforms: list[FeatureTransform]
    clusters: list[Cluster]
    spend_median: float  # the fit sample's median spending per cycle (minor units), for names
    naming: NamingRules
    k_selection: dict[str, Any]
    protected: list[str]
    currency: str | None
    as_of: str | None
    source: str
    fit_rows: int
    accounts: int
    created_at: str = field(default="", compare=False)

    @property
    def features(self) -> list[str]:
        return [t.name for t in self.transforms]

    def centroids(self) -> FloatArray:
        return np.asarray([c.centroid for c in self.clusters], dtype=np.float64)

    def cluster(self, cluster_id: int) -> Cluster:
        return self.clusters[cluster_id - 1]


# --- points --------------------------------------------------------------------------------


def _protected(extra: Sequence[str]) -> list[str]:
    """The caller's protected attributes, never fewer than the defaults (sex, marital status)."""
    return sorted({p.lower() for p in (*DEFAULT_PROTECTED, *extra)})


def _check_features(features: pl.DataFrame, names: Sequence[str], protected: Sequence[str]) -> None:
    assert_not_protected(names, _protected(protected))
    unknown = [n for n in names if n not in FEATURE_NAMES]
    if unknown:
        raise ClusteringError(
            f"unknown features {unknown}; cluster on behaviour features "
            "(cardpilot.scoring.features.FEATURE_DICTIONARY, docs/features.md)"
        )
    missing = [n for n in ("account_id", *names) if n not in features.columns]
    if missing:
        raise ClusteringError(
            f"the feature table lacks {missing}; compute it with "
            "cardpilot.scoring.features.behaviour_features"
        )


def _raw(features: pl.DataFrame, names: Sequence[str]) -> FloatArray:
    """The feature columns as a float matrix, null → NaN."""
    if not names:
        raise ClusteringError("no features to cluster on")
    return features.select(pl.col(n).cast(pl.Float64) for n in names).to_numpy(allow_copy=True)


def _signed_log1p(x: FloatArray) -> FloatArray:
    out: FloatArray = np.sign(x) * np.log1p(np.abs(x))
    return out


def transform(matrix: FloatArray, transforms: Sequence[FeatureTransform]) -> FloatArray:
    """Raw feature matrix → standardised coordinates (fill, log, clip, scale), in place safe."""
    out = np.array(matrix, dtype=np.float64, copy=True)
    for j, t in enumerate(transforms):
        col = out[:, j]
        col[np.isnan(col)] = t.fill
        if t.log:
            col = _signed_log1p(col)
        out[:, j] = (np.clip(col, t.low, t.high) - t.mean) / t.scale
    return out


def _fit_transforms(matrix: FloatArray, names: Sequence[str]) -> list[FeatureTransform]:
    out: list[FeatureTransform] = []
    for j, name in enumerate(names):
        col = matrix[:, j].copy()
        missing = np.isnan(col)
        if name in NULL_MEANS:
            fill = NULL_MEANS[name]
        else:
            fill = float(np.median(col[~missing])) if (~missing).any() else 0.0
        col[missing] = fill
        log = feature_spec(name).unit == "minor units"
        if log:
            col = _signed_log1p(col)
        low, high = (float(q) for q in np.quantile(col, CLIP_QUANTILES))
        col = np.clip(col, low, high)
        mean, std = float(col.mean()), float(col.std())
        out.append(FeatureTransform(name, log, fill, low, high, mean, std if std > 0 else 1.0))
    return out


# --- fit -----------------------------------------------------------------------------------


def _sample(n: int, size: int, seed: int) -> npt.NDArray[np.int64]:
    if n <= size:
        return np.arange(n, dtype=np.int64)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=size, replace=False)).astype(np.int64)


def _kmeans(points: FloatArray, k: int, seed: int) -> tuple[FloatArray, npt.NDArray[np.int64]]:
    from sklearn.cluster import KMeans

    fitted = KMeans(n_clusters=k, n_init=N_INIT, random_state=seed).fit(points)
    return (
        np.asarray(fitted.cluster_centers_, dtype=np.float64),
        np.asarray(fitted.labels_, dtype=np.int64),
    )


def _choose_k(
    points: FloatArray,
    k: int | None,
    k_range: tuple[int, int],
    seed: int,
    silhouette_rows: int,
) -> tuple[int, FloatArray, npt.NDArray[np.int64], dict[str, Any]]:
    from sklearn.metrics import silhouette_score

    n = points.shape[0]
    distinct = np.unique(points, axis=0).shape[0]
    if k is not None:
        if not 1 <= k <= distinct:
            raise ClusteringError(
                f"--k {k}: needs 1 ≤ k ≤ {distinct} (the distinct accounts in the fit sample)"
            )
        progress.stage(f"clustering: k-means, k = {k} on {n:,} accounts", None)
        centres, labels = _kmeans(points, k, seed)
        return k, centres, labels, {"method": "given", "k": k}
    low, high = k_range
    candidates = [c for c in range(max(2, low), high + 1) if c < distinct]
    if not candidates:
        raise ClusteringError(
            f"too few distinct accounts ({distinct}) to choose k in {low}..{high}; pass --k"
        )
    scores: dict[str, float] = {}
    best: tuple[float, int, FloatArray, npt.NDArray[np.int64]] | None = None
    progress.stage(f"clustering: k-means for k = {low}..{high} on {n:,} accounts", len(candidates))
    for c in candidates:
        progress.note(f"k = {c}")
        centres, labels = _kmeans(points, c, seed)
        progress.advance()
        if np.unique(labels).size < 2:
            continue
        value = float(
            silhouette_score(points, labels, sample_size=min(silhouette_rows, n), random_state=seed)
        )
        scores[str(c)] = round(value, 6)
        if best is None or value > best[0] + 1e-9:  # ties keep the smaller k
            best = (value, c, centres, labels)
    if best is None:
        raise ClusteringError("every k gave a single cluster; the accounts are all alike")
    _, chosen, centres, labels = best
    return chosen, centres, labels, {"method": "silhouette", "k": chosen, "silhouette": scores}


def _stats(column: FloatArray) -> dict[str, float | None]:
    known = column[~np.isnan(column)]
    if known.size == 0:
        return {"mean": None, "median": None}
    return {"mean": float(known.mean()), "median": float(np.median(known))}


def _profiles(
    features: pl.DataFrame, labels: npt.NDArray[np.int64], k: int
) -> list[dict[str, dict[str, float | None]]]:
    names = [n for n in PROFILE_FEATURES if n in features.columns]
    raw = _raw(features, names)
    return [{name: _stats(raw[labels == c, j]) for j, name in enumerate(names)} for c in range(k)]


def _content_hash(payload: dict[str, Any]) -> str:
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]


def fit_clustering(
    features: pl.DataFrame,
    *,
    k: int | None = None,
    k_range: tuple[int, int] = DEFAULT_K_RANGE,
    seed: int = DEFAULT_SEED,
    feature_names: Sequence[str] = CLUSTER_FEATURES,
    protected: Sequence[str] = DEFAULT_PROTECTED,
    max_fit_rows: int = 100_000,
    silhouette_rows: int = 5_000,
    naming: NamingRules | None = None,
    currency: str | None = None,
    as_of: dt.date | None = None,
    source: str = "",
) -> ClusterModel:
    """Fit a clustering on a behaviour feature table (one row per account)."""
    names = list(feature_names)
    _check_features(features, names, protected)
    if features.height < 2:
        raise ClusteringError(f"{features.height} accounts: too few to cluster")
    naming = naming or NamingRules()
    table = features.sort("account_id")
    sample = table[_sample(table.height, max_fit_rows, seed)]
    raw = _raw(sample, names)
    transforms = _fit_transforms(raw, names)
    points = transform(raw, transforms)
    chosen, centres, labels, selection = _choose_k(points, k, k_range, seed, silhouette_rows)
    profiles = _profiles(sample, labels, chosen)
    has_spend = "spend_avg_6m_minor" in sample.columns
    order = sorted(range(chosen), key=lambda c: (*order_key(profiles[c]), *centres[c].tolist()))
    spend = sample.get_column("spend_avg_6m_minor") if has_spend else None
    median = None if spend is None else spend.cast(pl.Float64).median()
    spend_median = float(median) if isinstance(median, int | float) else 0.0
    ordered_profiles = [profiles[c] for c in order]
    names_of = cluster_names(ordered_profiles, spend_median, naming)
    clusters = [
        Cluster(
            id=i,
            code=f"c{i}",
            name_en=name.en,
            name_zh=name.zh,
            centroid=[float(v) for v in centres[c]],
            fit_accounts=int((labels == c).sum()),
            profile=ordered_profiles[i - 1],
        )
        for i, (c, name) in enumerate(zip(order, names_of, strict=True), start=1)
    ]
    content = {
        "format": FORMAT,
        "method": "kmeans",
        "seed": seed,
        "transforms": [asdict(t) for t in transforms],
        "centroids": [c.centroid for c in clusters],
        "naming": naming.as_dict(),
        "spend_median": spend_median,
    }
    return ClusterModel(
        version=f"kmeans-k{chosen}-{_content_hash(content)}",
        method="kmeans",
        seed=seed,
        k=chosen,
        transforms=transforms,
        clusters=clusters,
        spend_median=spend_median,
        naming=naming,
        k_selection=selection,
        protected=_protected(protected),
        currency=currency,
        as_of=None if as_of is None else as_of.isoformat(),
        source=source,
        fit_rows=int(sample.height),
        accounts=int(table.height),
        created_at=dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )


# --- assign --------------------------------------------------------------------------------


def nearest_centroid(points: FloatArray, centroids: FloatArray) -> npt.NDArray[np.int64]:
    """Index of the nearest centroid per row (squared Euclidean; ties → the lower index)."""
    # |x - c|² = |x|² - 2 x·c + |c|²; |x|² is the same for every c, so it is left out.
    # einsum, not BLAS: a few centroids need no threads, and BLAS threads fight on a busy box.
    distance = (centroids**2).sum(axis=1)[None, :] - 2.0 * np.einsum("ij,kj->ik", points, centroids)
    return np.asarray(distance.argmin(axis=1), dtype=np.int64)


def assign_clusters(
    model: ClusterModel, features: pl.DataFrame, *, chunk_rows: int = 1_000_000
) -> pl.DataFrame:
    """``account_id, cluster`` (1-based id) for every row of a behaviour feature table."""
    _check_features(features, model.features, model.protected)
    centroids = model.centroids()
    ids = np.empty(features.height, dtype=np.int16)
    for start in range(0, features.height, chunk_rows):
        part = features.slice(start, chunk_rows)
        points = transform(_raw(part, model.features), model.transforms)
        ids[start : start + part.height] = nearest_centroid(points, centroids) + 1
    return pl.DataFrame(
        {"account_id": features.get_column("account_id"), "cluster": pl.Series(ids)}
    )


# --- save / load ---------------------------------------------------------------------------


def model_to_dict(model: ClusterModel) -> dict[str, Any]:
    data = asdict(model)
    return {"format": FORMAT, **data}


def save_clustering(model: ClusterModel, path: Path) -> Path:
    """Write the clustering as one JSON file (``clustering.json``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(model_to_dict(model), ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    return path


def load_clustering(path: Path) -> ClusterModel:
    """Read a clustering saved by :func:`save_clustering`; refuses one using protected data."""
    if path.is_dir():
        path = path / "clustering.json"
    if not path.is_file():
        raise ClusteringError(f"{path}: no such file; fit one with cardpilot segments cluster")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ClusteringError(f"{path}: not JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ClusteringError(f"{path}: not a cardpilot clustering (format {FORMAT})")
    data.pop("format")
    try:
        transforms = [FeatureTransform(**t) for t in data.pop("transforms")]
        assert_not_protected([t.name for t in transforms], _protected(data.get("protected", [])))
        clusters = [Cluster(**c) for c in data.pop("clusters")]
        naming = NamingRules(**data.pop("naming"))
        model = ClusterModel(transforms=transforms, clusters=clusters, naming=naming, **data)
    except (KeyError, TypeError) as exc:
        raise ClusteringError(f"{path}: a damaged clustering file ({exc}); fit it again") from None
    if len(model.clusters) != model.k or any(
        len(c.centroid) != len(transforms) for c in model.clusters
    ):
        raise ClusteringError(f"{path}: centroids do not match k and the features; fit it again")
    return model
