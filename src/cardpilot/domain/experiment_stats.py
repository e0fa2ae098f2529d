"""The comparison of a test's two arms, pure: intervals and minimum detectable effects.

A proportion (the share of accounts overdue in the next cycles, with a human-review case) is
compared as a difference of proportions, challenger minus champion, with the normal
approximation's interval, and each arm's own rate with its Wilson interval. A mean (utilisation,
the revolving balance that bears interest) is compared as a difference of means with Welch's
standard error and the normal interval (the arms hold hundreds of accounts or more).

The minimum detectable effect is the smallest true difference the test finds with the stated
power at the stated two-sided level, for the arms' sizes:
``(z(1 - alpha/2) + z(power)) * sqrt(var * (1/n_champion + 1/n_challenger))``, with the pooled
rate's variance ``p (1 - p)`` for a proportion and the pooled variance for a mean.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

from cardpilot.domain.money import BP

_NORMAL = NormalDist()


def z_two_sided(alpha_bp: int) -> float:
    """The normal quantile of a two-sided level (500 bp: 1.959964)."""
    return _NORMAL.inv_cdf(1 - alpha_bp / BP / 2)


def z_power(power_bp: int) -> float:
    """The normal quantile of a power (8000 bp: 0.841621)."""
    return _NORMAL.inv_cdf(power_bp / BP)


@dataclass(frozen=True)
class ArmFigure:
    """One arm's figure: accounts observed, the rate or mean, and its interval."""

    n: int
    value: float | None
    low: float | None
    high: float | None


@dataclass(frozen=True)
class Comparison:
    """Challenger minus champion, its interval, and the minimum detectable effect."""

    champion: ArmFigure
    challenger: ArmFigure
    difference: float | None
    low: float | None
    high: float | None
    mde: float | None

    @property
    def significant(self) -> bool | None:
        """Whether the interval excludes zero (None: not enough accounts to tell)."""
        if self.low is None or self.high is None:
            return None
        return self.low > 0 or self.high < 0


def wilson(k: int, n: int, z: float) -> tuple[float, float]:
    """The Wilson score interval of a proportion ``k / n`` (``n`` > 0)."""
    p = k / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (max(0.0, centre - half), min(1.0, centre + half))


def compare_proportions(
    k_champion: int,
    n_champion: int,
    k_challenger: int,
    n_challenger: int,
    *,
    alpha_bp: int = 500,
    power_bp: int = 8000,
) -> Comparison:
    """Two arms' counts of accounts with the outcome (``k``) among those observed (``n``)."""
    z = z_two_sided(alpha_bp)
    arms = []
    for k, n in ((k_champion, n_champion), (k_challenger, n_challenger)):
        if n == 0:
            arms.append(ArmFigure(0, None, None, None))
        else:
            low, high = wilson(k, n, z)
            arms.append(ArmFigure(n, k / n, low, high))
    if n_champion == 0 or n_challenger == 0:
        return Comparison(arms[0], arms[1], None, None, None, None)
    p1, p2 = k_champion / n_champion, k_challenger / n_challenger
    pooled = (k_champion + k_challenger) / (n_champion + n_challenger)
    if pooled in (0.0, 1.0):
        # No event (or nothing else) in either arm: the normal approximation has no spread to
        # give; each arm's Wilson interval still bounds its rate.
        return Comparison(arms[0], arms[1], p2 - p1, None, None, None)
    se = math.sqrt(p1 * (1 - p1) / n_champion + p2 * (1 - p2) / n_challenger)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / n_champion + 1 / n_challenger))
    mde = (z + z_power(power_bp)) * spread
    diff = p2 - p1
    return Comparison(arms[0], arms[1], diff, diff - z * se, diff + z * se, mde)


@dataclass(frozen=True)
class Moments:
    """An arm's accounts observed, and the sum and sum of squares of their values."""

    n: int
    total: float
    squares: float

    @property
    def mean(self) -> float:
        return self.total / self.n

    @property
    def variance(self) -> float:
        """The sample variance (0 for fewer than two accounts)."""
        if self.n < 2:
            return 0.0
        return max(0.0, (self.squares - self.total * self.total / self.n) / (self.n - 1))


def compare_means(
    champion: Moments, challenger: Moments, *, alpha_bp: int = 500, power_bp: int = 8000
) -> Comparison:
    """Two arms' means, each with its normal interval, and their difference (Welch)."""
    z = z_two_sided(alpha_bp)
    arms = []
    for m in (champion, challenger):
        if m.n == 0:
            arms.append(ArmFigure(0, None, None, None))
        else:
            half = z * math.sqrt(m.variance / m.n)
            arms.append(ArmFigure(m.n, m.mean, m.mean - half, m.mean + half))
    if champion.n < 2 or challenger.n < 2:
        return Comparison(arms[0], arms[1], None, None, None, None)
    se = math.sqrt(champion.variance / champion.n + challenger.variance / challenger.n)
    pooled = ((champion.n - 1) * champion.variance + (challenger.n - 1) * challenger.variance) / (
        champion.n + challenger.n - 2
    )
    mde = (z + z_power(power_bp)) * math.sqrt(pooled * (1 / champion.n + 1 / challenger.n))
    diff = challenger.mean - champion.mean
    return Comparison(arms[0], arms[1], diff, diff - z * se, diff + z * se, mde)
