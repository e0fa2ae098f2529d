"""Vectorised aging agrees with the one-account rules; roll rates between snapshots."""

from __future__ import annotations

import datetime as dt

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from cardpilot.domain.delinquency import CycleStatus, age_account
from cardpilot.overdue.aging import age_accounts, bucket_summary, roll_rates, roll_summary
from cardpilot.overdue.loading import load_overdue_policy

POLICY = load_overdue_policy()
SCALE = POLICY.file.aging.scale()
CYCLES = [dt.date(2005, 4, 30), dt.date(2005, 5, 31), dt.date(2005, 6, 30), dt.date(2005, 7, 31)]


def frame(rows: list[tuple[str, dt.date, int, int]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={
            "account_id": pl.String,
            "cycle_date": pl.Date,
            "days_past_due": pl.Int32,
            "statement_balance_minor": pl.Int64,
        },
        orient="row",
    )


def test_uci_style_history_gives_bucket_runs_and_cures():
    st_ = frame(
        [
            ("a", CYCLES[0], 30, 1_000),
            ("a", CYCLES[1], 0, 2_000),
            ("a", CYCLES[2], 30, 3_000),
            ("a", CYCLES[3], 60, 4_000),
            ("b", CYCLES[3], 0, -500),
        ]
    )
    snap = age_accounts(st_, CYCLES[3], POLICY).to_dicts()
    a, b = snap
    assert (a["days_past_due"], a["bucket"], a["consecutive_overdue_months"]) == (60, "M2", 2)
    assert (a["cycles_delinquent"], a["cures"], a["overdue_balance_minor"]) == (3, 1, 4_000)
    assert (b["bucket"], b["balance_minor"], b["overdue_balance_minor"]) == ("current", 0, 0)
    assert a["policy_version"] == POLICY.version


def test_overdue_accounts_age_between_statements_and_reach_write_off():
    st_ = frame([("a", CYCLES[3], 180, 9_000)])
    snap = age_accounts(st_, CYCLES[3] + dt.timedelta(days=5), POLICY).row(0, named=True)
    assert (snap["days_past_due"], snap["bucket"], snap["write_off"]) == (185, "M7+", True)


def test_roll_rates_count_forward_rolls_and_cures():
    prev = age_accounts(
        frame([("a", CYCLES[0], 0, 100), ("b", CYCLES[0], 30, 100), ("c", CYCLES[0], 30, 300)]),
        CYCLES[0],
        POLICY,
    )
    curr = age_accounts(
        frame([("a", CYCLES[1], 30, 100), ("b", CYCLES[1], 60, 100), ("c", CYCLES[1], 0, 300)]),
        CYCLES[1],
        POLICY,
    )
    summary = roll_summary(roll_rates(prev, curr), SCALE)
    forward = {(r["from"], r["to"]): r for r in summary["forward"]}
    cures = {(r["from"], r["to"]): r for r in summary["cures"]}
    assert forward[("current", "M1")]["rate"] == "1.000000"
    assert forward[("M1", "M2")]["rate"] == "0.500000"
    assert forward[("M1", "M2")]["balance_rate"] == "0.250000"
    assert cures[("M1", "current")]["accounts"] == 1
    assert forward[("M5", "M6")]["from_accounts"] == 0


def test_bucket_summary_lists_every_bucket_in_order():
    snap = age_accounts(frame([("a", CYCLES[0], 30, 100)]), CYCLES[0], POLICY)
    table = bucket_summary(snap, SCALE)
    assert table["bucket"].to_list() == list(SCALE.codes)
    assert table.filter(pl.col("bucket") == "M1")["accounts"].item() == 1


dpds = st.sampled_from([0, 0, 0, 30, 60, 90, 120, 180, 240, 270])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.lists(dpds, min_size=1, max_size=4), min_size=1, max_size=8),
    st.integers(0, 40),
)
def test_vectorised_aging_matches_the_one_account_rules(histories, extra_days):
    rows = []
    for i, hist in enumerate(histories):
        for k, d in enumerate(hist):
            rows.append((f"acc{i}", CYCLES[k], d, 1_000 * (k + 1) - 1_500))
    as_of = CYCLES[3] + dt.timedelta(days=extra_days)
    snap = {r["account_id"]: r for r in age_accounts(frame(rows), as_of, POLICY).to_dicts()}
    for i, hist in enumerate(histories):
        cycles = [CycleStatus(CYCLES[k], d, 1_000 * (k + 1) - 1_500) for k, d in enumerate(hist)]
        one = age_account(cycles, as_of, SCALE, POLICY.file.aging.write_off_after_days)
        assert one is not None
        got = snap[f"acc{i}"]
        assert (
            got["days_past_due"],
            got["bucket"],
            got["cycles_delinquent"],
            got["consecutive_overdue_months"],
            got["cures"],
            got["balance_minor"],
            got["overdue_balance_minor"],
            got["write_off"],
        ) == (
            one.days_past_due,
            one.bucket,
            one.cycles_delinquent,
            one.consecutive_overdue_months,
            one.cures,
            one.balance_minor,
            one.overdue_balance_minor,
            one.write_off,
        )
