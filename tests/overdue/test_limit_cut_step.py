"""The step a cut limit is rounded down to is a policy value (``limit_cut_step_yuan``)."""

from __future__ import annotations

import copy

import polars as pl
import pytest

from cardpilot.overdue.loading import (
    OverduePolicyError,
    default_overdue_policy_path,
    load_overdue_policy,
    overdue_policy_from_data,
    read_overdue_data,
)
from cardpilot.overdue.treatment_table import with_limits


def _with_step(step: object | None) -> dict:
    data = copy.deepcopy(read_overdue_data())
    data.pop("limit_cut_step_yuan", None)
    if step is not None:
        data["limit_cut_step_yuan"] = step
    return data


def test_the_shipped_policies_cut_to_a_whole_unit_of_their_currency() -> None:
    uci = default_overdue_policy_path().parent.parent / "uci-twd"
    for folder in (None, uci):
        assert load_overdue_policy(folder).file.limit_cut_step_yuan == 100


def test_the_step_is_read_in_yuan_and_held_in_fen() -> None:
    assert overdue_policy_from_data(_with_step("100")).file.limit_cut_step_yuan == 10_000
    assert overdue_policy_from_data(_with_step(None)).file.limit_cut_step_yuan == 100


def test_stating_the_default_step_keeps_the_policy_version_and_another_step_changes_it() -> None:
    without = overdue_policy_from_data(_with_step(None)).version
    assert overdue_policy_from_data(_with_step(1)).version == without
    assert overdue_policy_from_data(_with_step(10)).version != without


@pytest.mark.parametrize("step", [0, -1, "abc"])
def test_a_step_that_is_not_a_positive_amount_is_refused_by_name(step: object) -> None:
    with pytest.raises(OverduePolicyError, match="limit_cut_step_yuan"):
        overdue_policy_from_data(_with_step(step))


def test_a_cut_limit_is_rounded_down_to_the_step_and_other_actions_keep_it() -> None:
    treated = pl.DataFrame(
        {
            "account_id": ["cut", "freeze"],
            "limit_action": ["cut", "freeze"],
            "limit_cut_share_bp": [3_000, 0],
        }
    )
    accounts = pl.DataFrame(
        {
            "account_id": ["cut", "freeze"],
            "customer_id": ["c1", "c2"],
            "currency": ["CNY", "CNY"],
            "old_limit_minor": [1_234_567, 1_234_567],
        }
    )
    # 70 % of 12,345.67 is 8,641.969: 8,641.00 to the yuan, 8,600.00 to the hundred.
    for step, cut in ((100, 864_100), (10_000, 860_000)):
        new = with_limits(treated, accounts, step)["new_limit_minor"].to_list()
        assert new == [cut, 1_234_567]
