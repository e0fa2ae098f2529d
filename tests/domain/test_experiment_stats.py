"""The arms compared: intervals of a difference and the minimum detectable effect."""

from __future__ import annotations

import math

import pytest

from cardpilot.domain.experiment_stats import (
    Moments,
    compare_means,
    compare_proportions,
    wilson,
    z_power,
    z_two_sided,
)


def test_the_quantiles_of_five_percent_and_eighty_percent_power() -> None:
    assert z_two_sided(500) == pytest.approx(1.959964, abs=1e-6)
    assert z_power(8_000) == pytest.approx(0.841621, abs=1e-6)


def test_difference_of_proportions_and_its_normal_interval() -> None:
    c = compare_proportions(100, 1_000, 130, 1_000)
    assert c.difference == pytest.approx(0.03)
    se = math.sqrt(0.1 * 0.9 / 1_000 + 0.13 * 0.87 / 1_000)
    assert c.low == pytest.approx(0.03 - 1.959964 * se, abs=1e-6)
    assert c.high == pytest.approx(0.03 + 1.959964 * se, abs=1e-6)
    assert c.significant is True
    assert (c.champion.low, c.champion.high) == pytest.approx(wilson(100, 1_000, 1.959964))


def test_minimum_detectable_effect_of_a_proportion_for_the_arms_sizes() -> None:
    # pooled p = 0.5, n = 1,000 each: (1.96 + 0.8416) * sqrt(0.25 * 2 / 1000) = 0.0626
    c = compare_proportions(500, 1_000, 500, 1_000)
    assert c.mde == pytest.approx(2.801585 * math.sqrt(0.25 * 0.002), abs=1e-6)
    assert c.significant is False
    # four times the accounts halve it
    assert compare_proportions(2_000, 4_000, 2_000, 4_000).mde == pytest.approx(c.mde / 2)


def test_an_empty_arm_gives_no_difference() -> None:
    c = compare_proportions(0, 0, 3, 10)
    assert c.difference is None
    assert c.mde is None
    assert c.significant is None
    assert c.challenger.value == pytest.approx(0.3)


def test_difference_of_means_with_welch_standard_error() -> None:
    a = [1.0, 2.0, 3.0, 4.0]
    b = [2.0, 4.0, 6.0, 8.0]
    c = compare_means(
        Moments(4, sum(a), sum(x * x for x in a)), Moments(4, sum(b), sum(x * x for x in b))
    )
    var_a, var_b = 5 / 3, 20 / 3
    se = math.sqrt(var_a / 4 + var_b / 4)
    assert c.difference == pytest.approx(2.5)
    assert c.low == pytest.approx(2.5 - 1.959964 * se, abs=1e-6)
    pooled = (3 * var_a + 3 * var_b) / 6
    assert c.mde == pytest.approx(2.801585 * math.sqrt(pooled * 0.5), abs=1e-5)


def test_no_event_in_either_arm_gives_no_interval_of_the_difference() -> None:
    c = compare_proportions(0, 800, 0, 200)
    assert c.difference == 0
    assert c.low is None
    assert c.mde is None
    assert c.challenger.high == pytest.approx(wilson(0, 200, 1.959964)[1])
