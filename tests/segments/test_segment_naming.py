"""Cluster names in words, from profiles: stable, distinct, in both locales."""

from __future__ import annotations

from cardpilot.segments.naming import ClusterName, NamingRules, cluster_names, order_key

RULES = NamingRules()
MEDIAN_SPEND = 1_000.0


def _profile(
    spend: float = 1_000,
    util: float = 0.3,
    ratio: float = 0.5,
    revolving: float = 2,
    inactive: float = 0,
    overdue: float = 0,
) -> dict[str, dict[str, float | None]]:
    both = {
        "spend_avg_6m_minor": spend,
        "utilisation_avg_6m": util,
        "payment_ratio_avg_6m": ratio,
        "revolving_months_6m": revolving,
        "inactive_months_6m": inactive,
        "overdue_count_6m": overdue,
    }
    return {k: {"mean": v, "median": v} for k, v in both.items()}


def test_spending_level_and_repayment_habit_make_the_name():
    names = cluster_names(
        [
            _profile(spend=2_000, ratio=1.0, revolving=0),
            _profile(spend=300, ratio=0.1, revolving=5),
            _profile(spend=1_000, ratio=0.5, revolving=2),
            _profile(spend=900, overdue=2.5),
            _profile(spend=1_200, overdue=0.7),
        ],
        MEDIAN_SPEND,
        RULES,
    )
    assert names == [
        ClusterName("high spend, pays in full", "高消费，全额还款"),
        ClusterName("low spend, revolves", "低消费，循环还款"),
        ClusterName("medium spend, pays in part", "中等消费，部分还款"),
        ClusterName("medium spend, often overdue", "中等消费，经常逾期"),
        ClusterName("medium spend, sometimes overdue", "中等消费，偶有逾期"),
    ]


def test_a_dormant_cluster_is_named_dormant_and_keeps_only_an_overdue_habit():
    names = cluster_names(
        [_profile(spend=0, inactive=6, ratio=1.0), _profile(spend=0, inactive=5, overdue=0.6)],
        MEDIAN_SPEND,
        RULES,
    )
    assert [n.en for n in names] == ["dormant", "dormant, sometimes overdue"]


def test_clusters_that_would_share_a_name_get_their_utilisation_then_their_number():
    names = cluster_names(
        [
            _profile(util=0.05, ratio=0.1, revolving=5),
            _profile(util=0.8, ratio=0.1, revolving=5),
            _profile(util=0.8, ratio=0.2, revolving=6),
        ],
        MEDIAN_SPEND,
        RULES,
    )
    assert [n.en for n in names] == [
        "medium spend, revolves, low use",
        "medium spend, revolves, high use #2",
        "medium spend, revolves, high use #3",
    ]
    assert names[0].zh == "中等消费，循环还款，低额度使用"


def test_order_is_by_median_then_mean_spending_then_utilisation():
    a = _profile(spend=100)
    b = _profile(spend=100, util=0.9)
    c = _profile(spend=50)
    assert sorted([a, b, c], key=order_key) == [c, a, b]
