"""Aging the real UCI portfolio: buckets follow the repayment status codes of September 2005."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from cardpilot.domain.delinquency import STANDARD_SCALE, dpd_from_repayment_status
from cardpilot.overdue.aging import age_accounts, roll_rates, roll_summary
from cardpilot.overdue.loading import load_overdue_policy
from cardpilot.overdue.treatment import assign_treatments

UCI = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "uci_credit_card_default.csv"
SEPT = dt.date(2005, 9, 30)

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def statements() -> pl.DataFrame:
    if not UCI.exists():
        pytest.skip(f"real data absent: {UCI} (see ../shared/data/README.md)")
    from cardpilot.ingest.uci import read_uci

    return read_uci(UCI).statements


def test_september_buckets_match_the_pay_0_codes(statements):
    policy = load_overdue_policy()
    snap = age_accounts(statements, SEPT, policy)
    assert snap.height == 30_000
    sept = statements.filter(pl.col("cycle_date") == SEPT)
    expected = (
        sept.with_columns(
            pl.col("repayment_status")
            .map_elements(
                lambda c: STANDARD_SCALE.bucket_for(dpd_from_repayment_status(c)),
                return_dtype=pl.String,
            )
            .alias("bucket")
        )
        .group_by("bucket")
        .len()
    )
    got = snap.group_by("bucket").len()
    assert dict(got.iter_rows()) == dict(expected.iter_rows())
    rolls = roll_summary(
        roll_rates(age_accounts(statements, dt.date(2005, 8, 31), policy), snap),
        policy.file.aging.scale(),
    )
    assert 0 < float(rolls["forward"][0]["rate"]) < 1  # some current accounts roll to M1
    treated = assign_treatments(
        snap.with_columns(pd=pl.lit(None, pl.Float64), broken_promises=pl.lit(0)), policy, SEPT
    )
    assert treated.height == snap.filter(pl.col("days_past_due") > 0).height
