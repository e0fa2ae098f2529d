"""The arithmetic of the fairness report: shares with Wilson intervals, adverse impact ratios
and the model's AUC within a group. Pure functions of counts and arrays.

Adverse impact ratio (AIR): a group's rate of the favourable outcome divided by the highest
such rate among the groups (the most favoured one). For limit increases the favourable
outcome is the increase; for decreases it is *not* being decreased, so the decrease AIR is
``(1 − decrease share) / max over groups of (1 − decrease share)``. A ratio under four fifths
(0.8, the EEOC's rule of thumb, 29 CFR 1607.4(D)) is flagged for review.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from statistics import NormalDist

import numpy as np
import numpy.typing as npt

from cardpilot.fairness.thresholds import CONFIDENCE
from cardpilot.scoring.metrics import auc


def share(count: int, total: int) -> float | None:
    return count / total if total else None


def wilson_interval(
    successes: int, trials: int, confidence: float = CONFIDENCE
) -> tuple[float, float] | None:
    """The Wilson score interval of a proportion (stays inside [0, 1], sound near 0 and 1)."""
    if trials <= 0:
        return None
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = successes / trials
    z2n = z * z / trials
    centre = (p + z2n / 2) / (1 + z2n)
    half = z * math.sqrt(p * (1 - p) / trials + z2n / (4 * trials)) / (1 + z2n)
    # At 0 and at ``trials`` the bound is exactly 0 or 1; the float arithmetic misses it.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return low, high


def impact_ratios(
    favourable: Mapping[str, float | None], eligible: Iterable[str]
) -> tuple[str | None, dict[str, float | None]]:
    """The most favoured group among ``eligible`` (highest favourable rate; ties: first name)
    and every group's rate divided by its rate. None where a rate is unknown, and for all
    when the most favoured rate is zero (no group had the favourable outcome)."""
    pool = {g: r for g, r in favourable.items() if g in set(eligible) and r is not None}
    if not pool:
        return None, dict.fromkeys(favourable)
    reference = min(pool, key=lambda g: (-pool[g], g))
    top = pool[reference]
    if top <= 0:
        return reference, dict.fromkeys(favourable)
    return reference, {g: None if r is None else r / top for g, r in favourable.items()}


def group_auc(
    defaulted: npt.ArrayLike, score: npt.ArrayLike
) -> tuple[float | None, int, str | None]:
    """AUC of the score against the outcome among accounts with both (a higher score means
    less risk), the accounts it was measured on, and why it is None when it is."""
    y = np.asarray(defaulted, dtype=np.float64)
    s = np.asarray(score, dtype=np.float64)
    known = ~np.isnan(y) & ~np.isnan(s)
    y, s = y[known], s[known]
    if y.size == 0:
        return None, 0, "no account of the group has both a score and an outcome label"
    defaults = int(y.sum())
    if defaults == 0:
        return None, int(y.size), "no account of the group defaulted"
    if defaults == y.size:
        return None, int(y.size), "every labelled account of the group defaulted"
    return auc(y, -s), int(y.size), None
