"""Stable order and descriptive names of behaviour clusters, from their profiles.

KMeans numbers its clusters arbitrarily; the order here is meaningful instead: cluster 1
spends least, the last spends most (median new spending per cycle, then mean spending, then
utilisation as tie-breaks). A name says how a cluster spends and repays in words a risk
analyst would use ("high spend, pays in full" / "高消费，全额还款").

The thresholds are descriptive, not decisions: they only choose words. They are kept in
``NamingRules`` (saved with the fitted clustering) so a name always reproduces.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class NamingRules:
    """Which words a profile earns. Means and medians are of the cluster's members."""

    # Median cycles with no balance and no payment, out of 6: at least this → "dormant".
    dormant_inactive_months: float = 3.0
    # Mean overdue cycles out of 6: at least ``often_overdue`` → "often overdue",
    # at least ``sometimes_overdue`` → "sometimes overdue".
    often_overdue: float = 2.0
    sometimes_overdue: float = 0.5
    # Median payment ratio (payment / previous bill): at least this → "pays in full".
    pays_in_full_ratio: float = 0.9
    # Median cycles carrying a balance: at least this → "revolves", else "pays in part".
    revolving_months: float = 3.0
    # Median spending against the portfolio's median spending: below ``low_spend`` times it →
    # "low spend", at least ``high_spend`` times it → "high spend", else "medium spend".
    low_spend: float = 0.6
    high_spend: float = 1.5
    # Median utilisation bands, used only to tell apart clusters that would share a name.
    high_use: float = 0.6
    low_use: float = 0.1

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class ClusterName:
    en: str
    zh: str


# Words in both locales; zh-CN joins with "，", en with ", ".
_WORDS: dict[str, tuple[str, str]] = {
    "dormant": ("dormant", "休眠"),
    "low": ("low spend", "低消费"),
    "medium": ("medium spend", "中等消费"),
    "high": ("high spend", "高消费"),
    "often_overdue": ("often overdue", "经常逾期"),
    "sometimes_overdue": ("sometimes overdue", "偶有逾期"),
    "full": ("pays in full", "全额还款"),
    "revolves": ("revolves", "循环还款"),
    "part": ("pays in part", "部分还款"),
    "high_use": ("high use", "高额度使用"),
    "medium_use": ("medium use", "中等额度使用"),
    "low_use": ("low use", "低额度使用"),
}

Profile = Mapping[str, Mapping[str, float | None]]  # feature → {"mean": …, "median": …}


def _stat(profile: Profile, feature: str, stat: str) -> float:
    value = profile.get(feature, {}).get(stat)
    return 0.0 if value is None else float(value)


def order_key(profile: Profile) -> tuple[float, float, float]:
    """Sort key of a cluster: spending level first (median, then mean), then utilisation."""
    return (
        _stat(profile, "spend_avg_6m_minor", "median"),
        _stat(profile, "spend_avg_6m_minor", "mean"),
        _stat(profile, "utilisation_avg_6m", "median"),
    )


def _words(profile: Profile, spend_median: float, rules: NamingRules) -> list[str]:
    overdue = _stat(profile, "overdue_count_6m", "mean")
    repay: str | None
    if overdue >= rules.often_overdue:
        repay = "often_overdue"
    elif overdue >= rules.sometimes_overdue:
        repay = "sometimes_overdue"
    elif _stat(profile, "payment_ratio_avg_6m", "median") >= rules.pays_in_full_ratio:
        repay = "full"
    elif _stat(profile, "revolving_months_6m", "median") >= rules.revolving_months:
        repay = "revolves"
    else:
        repay = "part"
    if _stat(profile, "inactive_months_6m", "median") >= rules.dormant_inactive_months:
        # A dormant card's repayment habit only matters when it is late.
        return ["dormant"] + ([repay] if repay.endswith("overdue") else [])
    spend = _stat(profile, "spend_avg_6m_minor", "median")
    level = (
        "low"
        if spend < rules.low_spend * spend_median
        else "high"
        if spend >= rules.high_spend * spend_median
        else "medium"
    )
    return [level, repay]


def _use_word(profile: Profile, rules: NamingRules) -> str:
    use = _stat(profile, "utilisation_avg_6m", "median")
    return (
        "high_use" if use >= rules.high_use else "low_use" if use <= rules.low_use else "medium_use"
    )


def _render(words: Sequence[str]) -> ClusterName:
    return ClusterName(
        en=", ".join(_WORDS[w][0] for w in words), zh="，".join(_WORDS[w][1] for w in words)
    )


def cluster_names(
    profiles: Sequence[Profile], spend_median: float, rules: NamingRules
) -> list[ClusterName]:
    """One distinct name per profile (in the given order).

    ``spend_median`` is the portfolio's median spending per cycle (minor units). Clusters
    that would share a name get their utilisation band added; if that still collides, their
    number (``#2``) in the order.
    """
    words = [_words(p, spend_median, rules) for p in profiles]
    keys = Counter(tuple(w) for w in words)
    words = [
        [*w, _use_word(p, rules)] if keys[tuple(w)] > 1 else w
        for w, p in zip(words, profiles, strict=True)
    ]
    names = [_render(w) for w in words]
    seen = Counter(n.en for n in names)
    return [
        ClusterName(f"{n.en} #{i}", f"{n.zh} #{i}") if seen[n.en] > 1 else n
        for i, n in enumerate(names, start=1)
    ]
