"""Days past due, buckets and overdue runs for one account."""

from __future__ import annotations

import datetime as dt

import pytest

from cardpilot.domain.delinquency import (
    STANDARD_SCALE,
    Bucket,
    BucketScale,
    CycleStatus,
    DelinquencyError,
    age_account,
    consecutive_overdue_months,
    cures,
    dpd_from_repayment_status,
)


@pytest.mark.parametrize(
    ("code", "dpd"), [(-2, 0), (-1, 0), (0, 0), (1, 30), (2, 60), (8, 240), (9, 270)]
)
def test_uci_repayment_status_maps_to_days_past_due(code, dpd):
    assert dpd_from_repayment_status(code) == dpd


def test_unknown_repayment_status_is_refused():
    with pytest.raises(DelinquencyError, match="unknown repayment status"):
        dpd_from_repayment_status(10)


@pytest.mark.parametrize(
    ("dpd", "bucket"),
    [(0, "current"), (1, "M1"), (30, "M1"), (31, "M2"), (180, "M6"), (181, "M7+"), (999, "M7+")],
)
def test_standard_buckets_are_thirty_day_bands(dpd, bucket):
    assert STANDARD_SCALE.bucket_for(dpd) == bucket


def test_a_scale_with_a_gap_is_refused():
    with pytest.raises(DelinquencyError, match="must start at 31"):
        BucketScale((Bucket("current", 0, 0), Bucket("M1", 1, 30), Bucket("M2", 40, None)))


def test_consecutive_overdue_months_counts_the_latest_run_only():
    assert consecutive_overdue_months([30, 0, 30, 60]) == 2
    assert consecutive_overdue_months([30, 60, 0]) == 0
    assert cures([30, 0, 30, 60, 0]) == 2


def test_overdue_account_keeps_aging_between_statements():
    cycles = [
        CycleStatus(dt.date(2005, 8, 31), 0, 10_000),
        CycleStatus(dt.date(2005, 9, 30), 30, 20_000),
    ]
    aging = age_account(cycles, dt.date(2005, 10, 10))
    assert aging is not None
    assert (aging.days_past_due, aging.bucket, aging.overdue_balance_minor) == (40, "M2", 20_000)
    assert age_account(cycles, dt.date(2005, 8, 1)) is None
