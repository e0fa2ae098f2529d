"""The champion/challenger split: a pure function of account id and test name."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import polars as pl
import pytest

from cardpilot.domain.experiments import (
    CHALLENGER,
    CHAMPION,
    ExperimentSpec,
    ExperimentSpecError,
    arm_column,
    arm_of,
    arms_of,
    unit_hash,
)

IDS = [f"A{n:07d}" for n in range(2_000)]
PINNED_HASH = 678_634_129_977_515_606


def test_an_accounts_arm_is_the_same_in_another_interpreter() -> None:
    here = arms_of(IDS, "limits-2005h2", 2_000)
    code = (
        "from cardpilot.domain.experiments import arms_of;"
        "print(','.join(arms_of([f'A{n:07d}' for n in range(2000)], 'limits-2005h2', 2000)))"
    )
    there = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout.strip()
    assert there.split(",") == here


def test_the_hash_is_pinned() -> None:
    # A change of the hash would move live accounts between arms in the middle of a test.
    assert unit_hash("2", "pinned") == PINNED_HASH
    assert [arm_of(str(n), "pinned", 5_000) for n in range(8)] == [
        CHAMPION,
        CHAMPION,
        CHALLENGER,
        CHAMPION,
        CHAMPION,
        CHAMPION,
        CHAMPION,
        CHALLENGER,
    ]


def test_the_challenger_share_of_a_million_accounts_is_within_one_percent_of_the_request() -> None:
    ids = [str(n) for n in range(1_000_000)]
    for share_bp in (2_000, 5_000):
        arms = arms_of(ids, "million", share_bp)
        share = arms.count(CHALLENGER) / len(ids)
        assert abs(share - share_bp / 10_000) <= 0.01 * share_bp / 10_000


def test_two_tests_split_the_same_accounts_independently() -> None:
    a = arms_of(IDS, "first", 5_000)
    b = arms_of(IDS, "second", 5_000)
    both = sum(x == y == CHALLENGER for x, y in zip(a, b, strict=True))
    assert 0.2 < both / len(IDS) < 0.3  # about a quarter: independent halves


def test_a_larger_share_keeps_every_account_of_a_smaller_one() -> None:
    small = arms_of(IDS, "grow", 1_000)
    large = arms_of(IDS, "grow", 3_000)
    assert all(b == CHALLENGER for a, b in zip(small, large, strict=True) if a == CHALLENGER)


def test_the_arm_column_equals_the_arm_of_each_account() -> None:
    column = arm_column(pl.Series(IDS[:50]), "col", 4_000)
    assert column.to_list() == [arm_of(a, "col", 4_000) for a in IDS[:50]]
    assert set(column) <= {CHAMPION, CHALLENGER}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("share_bp", 0, "share"),
        ("share_bp", 10_000, "share"),
        ("name", "Bad Name", "test name"),
        ("kind", "fees", "kind"),
        ("challenger", "default", "challenger is the champion"),
        ("alpha_bp", 6_000, "alpha"),
        ("power_bp", 10_000, "power"),
    ],
)
def test_a_spec_out_of_range_names_the_setting(field: str, value: object, message: str) -> None:
    settings: dict[str, object] = {
        "name": "t1",
        "kind": "limits",
        "champion": "default",
        "challenger": "challenger",
        "share_bp": 2_000,
        "start_on": dt.date(2005, 10, 1),
    }
    settings[field] = value
    with pytest.raises(ExperimentSpecError, match=message):
        ExperimentSpec(**settings)  # type: ignore[arg-type]
