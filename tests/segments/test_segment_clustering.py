"""Fitting, ordering, naming, saving and assigning a behaviour clustering."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from cardpilot.scoring.protected import ProtectedAttributeError
from cardpilot.segments.clustering import (
    CLUSTER_FEATURES,
    ClusteringError,
    assign_clusters,
    fit_clustering,
    load_clustering,
    nearest_centroid,
    save_clustering,
)


@pytest.fixture(scope="module")
def fitted(sample_features: pl.DataFrame):  # type: ignore[no-untyped-def]
    return fit_clustering(sample_features, seed=3)


def _by_account(assigned: pl.DataFrame) -> dict[str, int]:
    return dict(assigned.select("account_id", "cluster").iter_rows())


def test_same_seed_gives_the_same_version_and_assignment_whatever_the_row_order(
    sample_features, fitted
):
    shuffled = sample_features.sample(fraction=1.0, shuffle=True, seed=99)
    again = fit_clustering(shuffled, seed=3)
    assert again.version == fitted.version
    assert again.clusters == fitted.clusters
    assert _by_account(assign_clusters(again, shuffled)) == _by_account(
        assign_clusters(fitted, sample_features)
    )


def test_k_is_chosen_by_silhouette_within_the_range_and_finds_the_four_behaviours(
    fitted, sample_features, archetype
):
    selection = fitted.k_selection
    assert selection["method"] == "silhouette"
    assert set(selection["silhouette"]) == {str(k) for k in range(3, 9)}
    assert fitted.k == 4
    assert selection["silhouette"]["4"] == max(selection["silhouette"].values())
    # Each behaviour the generator wrote lands (almost) wholly in one cluster of its own.
    pairs = Counter(
        (archetype[a], c)
        for a, c in assign_clusters(fitted, sample_features)
        .select("account_id", "cluster")
        .iter_rows()
    )
    home = {
        kind: max((n, c) for (k, c), n in pairs.items() if k == kind)[1]
        for kind in archetype.values()
    }
    assert len(set(home.values())) == 4


def test_a_given_k_is_used_as_is(sample_features):
    model = fit_clustering(sample_features, k=2, seed=3)
    assert model.k == 2
    assert model.k_selection == {"method": "given", "k": 2}


def test_clusters_are_numbered_by_spending_and_named_from_their_profile(
    fitted, sample_features, archetype
):
    medians = [c.profile["spend_avg_6m_minor"]["median"] for c in fitted.clusters]
    assert medians == sorted(medians)
    assert [c.id for c in fitted.clusters] == [1, 2, 3, 4]
    assert [c.code for c in fitted.clusters] == ["c1", "c2", "c3", "c4"]
    assert len({c.name_en for c in fitted.clusters}) == 4
    assigned = assign_clusters(fitted, sample_features)
    name_of = {c.id: c.name_en for c in fitted.clusters}
    kinds: dict[str, Counter[str]] = {}
    for account, cluster in assigned.select("account_id", "cluster").iter_rows():
        kinds.setdefault(archetype[account], Counter())[name_of[cluster]] += 1
    assert kinds["dormant"].most_common(1)[0][0] == "dormant"
    assert kinds["transactor"].most_common(1)[0][0].endswith("pays in full")
    assert kinds["revolver"].most_common(1)[0][0].endswith("revolves")
    assert kinds["delinquent"].most_common(1)[0][0].endswith("often overdue")
    zh = {c.name_en: c.name_zh for c in fitted.clusters}
    assert zh["dormant"] == "休眠"


def test_protected_attributes_are_refused_even_when_the_caller_lists_none(sample_features):
    with_sex = sample_features.with_columns(sex=pl.lit(1.0), marital_status=pl.lit(2.0))
    for banned in ("sex", "marital_status"):
        with pytest.raises(ProtectedAttributeError, match=banned):
            fit_clustering(with_sex, feature_names=[*CLUSTER_FEATURES, banned])
        with pytest.raises(ProtectedAttributeError):
            fit_clustering(with_sex, feature_names=[*CLUSTER_FEATURES, banned], protected=[])


def test_a_saved_clustering_using_a_protected_attribute_is_refused_on_load(fitted, tmp_path):
    path = save_clustering(fitted, tmp_path / "clustering.json")
    data = json.loads(path.read_text(encoding="utf-8"))
    data["transforms"][0]["name"] = "sex"
    data["protected"] = []
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ProtectedAttributeError):
        load_clustering(path)


def test_a_saved_clustering_loads_equal_and_assigns_the_same(fitted, sample_features, tmp_path):
    path = save_clustering(fitted, tmp_path / "out" / "clustering.json")
    loaded = load_clustering(path.parent)
    assert loaded == fitted
    assert loaded.version == fitted.version
    assert assign_clusters(loaded, sample_features).equals(assign_clusters(fitted, sample_features))


def test_a_file_that_is_not_a_clustering_is_refused_with_what_to_do(tmp_path):
    with pytest.raises(ClusteringError, match="segments cluster"):
        load_clustering(tmp_path / "missing.json")
    bad = tmp_path / "other.json"
    bad.write_text('{"format": "something else"}', encoding="utf-8")
    with pytest.raises(ClusteringError, match="not a cardpilot clustering"):
        load_clustering(bad)
    bad.write_text('{"format": "cardpilot.segments.clustering/1", "k": 2}', encoding="utf-8")
    with pytest.raises(ClusteringError, match="damaged"):
        load_clustering(bad)


def test_a_clustering_whose_centroids_do_not_fit_its_features_is_refused(fitted, tmp_path):
    path = save_clustering(fitted, tmp_path / "clustering.json")
    data = json.loads(path.read_text(encoding="utf-8"))
    data["clusters"][0]["centroid"] = data["clusters"][0]["centroid"][:-1]
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ClusteringError, match="do not match"):
        load_clustering(path)


def test_too_few_accounts_or_too_large_k_is_an_error(sample_features):
    with pytest.raises(ClusteringError, match="too few"):
        fit_clustering(sample_features.head(1))
    with pytest.raises(ClusteringError, match="--k"):
        fit_clustering(sample_features.head(5), k=6)
    with pytest.raises(ClusteringError, match="lacks"):
        fit_clustering(sample_features.drop("spend_avg_6m_minor"))
    with pytest.raises(ClusteringError, match="unknown features"):
        fit_clustering(sample_features.with_columns(x=pl.lit(1.0)), feature_names=["x"])


def test_nearest_centroid_breaks_ties_towards_the_lower_id():
    centroids = np.array([[0.0, 0.0], [2.0, 0.0]])
    points = np.array([[1.0, 0.0], [1.9, 0.0], [-5.0, 1.0]])
    assert nearest_centroid(points, centroids).tolist() == [0, 1, 0]


def test_a_million_accounts_are_assigned_in_seconds(fitted, sample_features):
    repeats = 1_000_000 // sample_features.height + 1
    big = pl.concat([sample_features] * repeats).head(1_000_000)
    big = big.with_columns(account_id=pl.int_range(big.height).cast(pl.String))
    started = time.perf_counter()
    assigned = assign_clusters(fitted, big)
    seconds = time.perf_counter() - started
    assert assigned.height == 1_000_000
    # Same rows, same clusters: the assignment is row-wise.
    small = assign_clusters(fitted, sample_features)["cluster"].to_list()
    assert assigned["cluster"].head(len(small)).to_list() == small
    assert seconds < 10, f"{seconds:.1f} s for 1M accounts"


def test_a_clustering_file_is_readable_json_with_its_version(fitted, tmp_path: Path):
    data = json.loads(save_clustering(fitted, tmp_path / "c.json").read_text(encoding="utf-8"))
    assert data["format"] == "cardpilot.segments.clustering/1"
    assert data["version"] == fitted.version
    assert [t["name"] for t in data["transforms"]] == list(CLUSTER_FEATURES)
    assert data["transforms"][0]["log"] is True  # spending is money: log1p
    assert len(data["clusters"]) == fitted.k
