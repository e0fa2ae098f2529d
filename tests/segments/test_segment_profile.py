"""The profile figures, exact on a small hand-made frame, and their HTML page."""

from __future__ import annotations

import polars as pl
import pytest

from cardpilot.policy.loading import load_policy
from cardpilot.reports.segments import render_profile_report
from cardpilot.segments.clustering import assign_clusters, fit_clustering
from cardpilot.segments.profile import cluster_profile
from cardpilot.segments.source import SegmentSourceError, policy_for

# a*: small spenders paying in full; b*: large spenders revolving and late.
FEATURES = pl.DataFrame(
    {
        "account_id": ["a1", "a2", "a3", "b1", "b2", "b3"],
        "spend_avg_6m_minor": [100, 200, 600, 500_000, 700_000, 900_001],
        "credit_limit_minor": [1_000_000] * 3 + [800_000] * 3,
        "utilisation_avg_6m": [0.02, 0.04, 0.06, 0.9, 0.95, 1.0],
        "utilisation_latest": [0.02, 0.04, 0.06, 0.9, 0.95, 1.0],
        "payment_ratio_avg_6m": [1.0, 1.0, None, 0.1, 0.1, 0.4],
        "revolving_months_6m": [0, 0, 0, 5, 5, 6],
        "inactive_months_6m": [0, 0, 0, 0, 0, 0],
        "overdue_count_6m": [0, 0, 0, 2, 3, 4],
        "max_months_overdue_6m": [0, 0, 0, 1, 2, 3],
        "cash_advance_share": [None] * 6,
    },
    schema_overrides={
        "revolving_months_6m": pl.Int32,
        "inactive_months_6m": pl.Int32,
        "overdue_count_6m": pl.Int32,
        "max_months_overdue_6m": pl.Int32,
        "cash_advance_share": pl.Float64,
    },
)
OUTCOME = pl.DataFrame(
    {"account_id": ["a1", "a2", "b1", "b2", "b3"], "defaulted": [0, 0, 1, 1, 0]},
    schema_overrides={"defaulted": pl.Int8},
)
SCORES = pl.DataFrame(
    {
        "account_id": ["a1", "a2", "a3", "b1", "b2", "b3"],
        "score": [600, 610, 620, 500, 510, 520],
        "pd": [0.01, 0.02, 0.03, 0.2, 0.3, 0.4],
    }
)


@pytest.fixture(scope="module")
def profile():  # type: ignore[no-untyped-def]
    model = fit_clustering(FEATURES, k=2, seed=1)
    assigned = assign_clusters(model, FEATURES)
    assert dict(assigned.iter_rows()) == {"a1": 1, "a2": 1, "a3": 1, "b1": 2, "b2": 2, "b3": 2}
    return cluster_profile(
        model,
        FEATURES,
        assigned,
        outcome=OUTCOME,
        scores=SCORES,
        policy=load_policy(),
        label="default_next_month",
        as_of="2005-10-01",
        model_version="scorecard-test",
    )


def test_sizes_shares_and_feature_means_and_medians_are_exact(profile):
    low, high = profile["clusters"]
    assert (low["accounts"], low["share"], high["accounts"], high["share"]) == (3, 0.5, 3, 0.5)
    assert low["features"]["spend_avg_6m_minor"] == {"mean": 300, "median": 200}
    assert high["features"]["spend_avg_6m_minor"] == {"mean": 700_000, "median": 700_000}
    assert low["features"]["utilisation_avg_6m"] == {"mean": 0.04, "median": 0.04}
    # The null payment ratio (nothing owed) is left out of the statistics.
    assert low["features"]["payment_ratio_avg_6m"] == {"mean": 1.0, "median": 1.0}
    assert high["features"]["payment_ratio_avg_6m"] == {"mean": 0.2, "median": 0.1}
    assert high["features"]["revolving_months_6m"] == {"mean": 5.333333, "median": 5.0}
    assert high["features"]["max_months_overdue_6m"] == {"mean": 2.0, "median": 2.0}
    assert profile["overall"]["features"]["spend_avg_6m_minor"] == {
        "mean": 350_150,  # 2,100,901 / 6 rounded to the minor unit
        "median": 250_300,
    }


def test_default_rates_count_only_labelled_accounts(profile):
    low, high = profile["clusters"]
    assert (low["labelled"], low["defaults"], low["default_rate"]) == (2, 0, 0.0)
    assert (high["labelled"], high["defaults"], high["default_rate"]) == (3, 2, 0.666667)
    overall = profile["overall"]
    assert (overall["labelled"], overall["defaults"], overall["default_rate"]) == (5, 2, 0.4)
    assert profile["label"] == "default_next_month"


def test_mean_score_and_pd_come_from_the_model(profile):
    low, high = profile["clusters"]
    assert (low["score_mean"], low["pd_mean"]) == (610.0, 0.02)
    assert (high["score_mean"], high["pd_mean"]) == (510.0, 0.3)
    assert profile["model_version"] == "scorecard-test"


def test_each_cluster_maps_to_its_nearest_policy_segment_with_a_crosstab(profile):
    low, high = profile["clusters"]
    assert low["segments"] == {
        "under_strain": 0,
        "dormant": 0,
        "large_on_time": 0,
        "cautious_low": 2,
        "revolver": 0,
        "standard": 1,  # a3: nothing owed, so the paid-in-full rule cannot hold
    }
    assert (low["policy_segment"], low["policy_segment_share"]) == ("cautious_low", 0.666667)
    assert low["profile_segment"] == "cautious_low"
    assert (high["policy_segment"], high["policy_segment_share"]) == ("under_strain", 1.0)
    assert high["segments"]["under_strain"] == 3
    assert profile["agreement"] == 0.833333
    assert profile["policy_segments"][-1] == "standard"


def test_without_labels_scores_or_policy_those_figures_are_absent():
    model = fit_clustering(FEATURES, k=2, seed=1)
    bare = cluster_profile(model, FEATURES, assign_clusters(model, FEATURES))
    assert bare["label"] is None
    assert bare["model_version"] is None
    assert "default_rate" not in bare["clusters"][0]
    assert "policy_segment" not in bare["clusters"][0]
    assert "policy_version" not in bare
    assert "<h2>" in render_profile_report(bare)


def test_the_html_page_shows_names_figures_and_the_crosstab_offline(profile):
    html = render_profile_report(profile)
    for text in (
        "Spending and repayment clusters",
        "Clusters × policy segments",
        "Behaviour profile",
        profile["clusters"][0]["name_zh"],
        profile["clusters"][1]["name_en"],
        "3.00 / 2.00",  # the low cluster's spending, mean / median, in major units
        "66.7%",
        "cautious_low",
    ):
        assert text in html
    assert "http" not in html.rsplit("</head>", 1)[1]


def test_the_policy_is_the_shipped_one_in_the_accounts_currency():
    assert policy_for("TWD").limits.currency == "TWD"
    assert policy_for("CNY").limits.currency == "CNY"
    with pytest.raises(SegmentSourceError, match="no shipped policy"):
        policy_for("EUR")
    from cardpilot.policy.loading import default_policy_path

    with pytest.raises(SegmentSourceError, match="uci-twd"):
        policy_for("TWD", default_policy_path())
