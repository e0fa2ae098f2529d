"""The shared policy base: one money parser and one percentage rule for every policy file."""

from __future__ import annotations

import copy
from decimal import Decimal

import pytest

from cardpilot.overdue.loading import (
    OverduePolicyError,
    overdue_policy_from_data,
    read_overdue_data,
)
from cardpilot.policy.base import parse_yuan, percent_to_bp
from cardpilot.policy.loading import PolicyError, policy_from_data


@pytest.mark.parametrize(
    ("written", "fen"),
    [(5000, 500_000), ("5,000.50", 500_050), (0.5, 50), (0.07, 7), ("12.30", 1_230), (0, 0)],
)
def test_yuan_are_read_exactly_as_fen(written, fen):
    assert parse_yuan(written) == fen


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("0.005", "more than two decimals"),
        (1.999, "more than two decimals"),
        (-1, "must not be negative"),
        ("five hundred", "not an amount"),
        ("NaN", "not an amount"),
        (True, "must be an amount in yuan"),
    ],
)
def test_amounts_that_are_not_whole_fen_are_errors_never_rounded(written, message):
    with pytest.raises(ValueError, match=message):
        parse_yuan(written)


@pytest.mark.parametrize(
    ("percent", "bp"),
    [
        ("12.5", 1250),
        ("35", 3500),
        ("12.345", 1234),  # half to even: down to the even 1234
        ("12.355", 1236),  # half to even: up to the even 1236
        ("12.3451", 1235),
        ("0.005", 0),
        ("0.015", 2),
    ],
)
def test_percentages_become_basis_points_half_to_even(percent, bp):
    assert percent_to_bp(Decimal(percent)) == bp


def test_a_sub_fen_amount_names_its_field_in_the_limit_policy(policy_data):
    limits, reasons = policy_data
    limits["grades"][1]["decrease"]["floor_yuan"] = "100.001"
    with pytest.raises(PolicyError) as info:
        policy_from_data(limits, reasons)
    assert "grades[1].decrease.floor_yuan: '100.001' has more than two decimals" in str(info.value)


def test_a_sub_fen_amount_names_its_field_in_the_overdue_policy():
    data = copy.deepcopy(read_overdue_data())
    data["segments"][0]["treatment"]["late_fee"]["max_yuan"] = 1.005
    with pytest.raises(OverduePolicyError) as info:
        overdue_policy_from_data(data)
    message = str(info.value)
    assert "segments[0].treatment.late_fee.max_yuan: 1.005 has more than two decimals" in message


def test_overdue_percentages_use_the_same_half_even_rule():
    data = copy.deepcopy(read_overdue_data())
    data["segments"][1]["treatment"]["fee_waiver_share"] = "33.335"
    policy = overdue_policy_from_data(data)
    assert percent_to_bp(policy.file.segments[1].treatment.fee_waiver_share) == 3334
