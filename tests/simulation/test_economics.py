"""Per-account figures of a decision, and their sums: exposure, expected loss, revenue, cost and
net in integer minor units, rounded once per account, so every breakdown adds up exactly."""

from __future__ import annotations

import numpy as np
import polars as pl

from cardpilot.policy.assumptions import load_assumptions
from cardpilot.policy.catalogue import shipped_dir
from cardpilot.simulation.economics import (
    COST,
    FIGURES,
    MONEY,
    REVENUE,
    account_figures,
    cell_sums,
    kept,
)
from cardpilot.simulation.figures import PolicyFigures, breakdown, combine

ASSUMPTIONS = load_assumptions(shipped_dir() / "uci-twd")


def _decisions(old: list[int], new: list[int], pd: list[float]) -> pl.DataFrame:
    n = len(old)
    return pl.DataFrame(
        {
            "account_id": [f"A{i:05d}" for i in range(n)],
            "grade": ["good"] * n,
            "segment": ["large_on_time"] * n,
            "action": ["increase" if b > a else "keep" for a, b in zip(old, new, strict=True)],
            "pd": pd,
            "old_limit_minor": old,
            "new_limit_minor": new,
        }
    )


def _accounts(balance: list[int], spend: list[int], revolving: int = 6) -> pl.DataFrame:
    n = len(balance)
    return pl.DataFrame(
        {
            "account_id": [f"A{i:05d}" for i in range(n)],
            "balance_latest_minor": balance,
            "spend_avg_6m_minor": spend,
            "revolving_months_6m": [revolving] * n,
            "overdue_count_6m": [0] * n,
            "history_months": [6] * n,
        }
    )


def test_exposure_is_balance_plus_ccf_on_the_unused_limit_and_loss_pd_lgd_ead() -> None:
    # Limit 100,000.00 kept, balance 40,000.00: EAD = 40,000 + 50 % × 60,000 = 70,000.00.
    figures = account_figures(
        _decisions([10_000_000], [10_000_000], [0.1]), _accounts([4_000_000], [0]), ASSUMPTIONS
    ).row(0, named=True)
    assert figures["exposure"] == 7_000_000
    assert figures["expected_loss"] == 525_000  # 0.1 × 75 % × 70,000.00
    assert figures["changed"] == 0
    assert figures["messages"] == 0
    # Interest: 40,000.00 revolving all six cycles at 18 % a year for one month = 600.00.
    assert figures["interest"] == 60_000
    assert figures["funding"] == round(4_000_000 * 0.02 / 12)


def test_a_limit_increase_moves_balance_and_spending_by_their_responses() -> None:
    # +20 % limit: balance × (1 + 0.4 × 0.2), spending × (1 + 0.3 × 0.2).
    figures = account_figures(
        _decisions([10_000_000], [12_000_000], [0.0]),
        _accounts([1_000_000], [500_000]),
        ASSUMPTIONS,
    ).row(0, named=True)
    balance = 1_000_000 * 1.08
    assert figures["exposure"] == round(balance + 0.5 * (12_000_000 - balance))
    assert figures["interchange"] == round(500_000 * 1.06 * 0.01)
    assert figures["limit_added"] == 2_000_000
    assert figures["limit_removed"] == 0
    assert figures["changed"] == 1
    assert figures["increased"] == 1
    assert figures["messages"] == ASSUMPTIONS.message_cost.value_yuan


def test_each_figure_is_rounded_half_to_even_to_the_minor_unit() -> None:
    # EAD 1.00 + 50 % × 0.01 unused = 1.005 → 1.00 (half to even: 100.5 → 100 minor units);
    # 1.015 → 1.02 (101.5 → 102).
    figures = account_figures(
        _decisions([101, 104], [101, 104], [0.0, 0.0]), _accounts([100, 101], [0, 0]), ASSUMPTIONS
    )
    assert figures["exposure"].to_list() == [100, 102]


def test_revenue_cost_and_net_are_sums_of_the_rounded_components() -> None:
    rng = np.random.default_rng(3)
    n = 5_000
    old = rng.integers(1, 50, n) * 1_000_000
    new = (old * rng.choice([0.5, 1.0, 1.2, 1.5], n)).astype(np.int64)
    figures = account_figures(
        _decisions(old.tolist(), new.tolist(), rng.random(n).tolist()),
        _accounts(rng.integers(0, 3_000_000, n).tolist(), rng.integers(0, 200_000, n).tolist()),
        ASSUMPTIONS,
    )
    assert (figures["revenue"] == figures.select(pl.sum_horizontal(REVENUE)).to_series()).all()
    assert (figures["cost"] == figures.select(pl.sum_horizontal(COST)).to_series()).all()
    net = figures["revenue"] - figures["cost"] - figures["expected_loss"]
    assert (figures["net"] == net).all()
    assert all(figures[c].dtype == pl.Int64 for c in MONEY)


def test_grades_segments_and_chunks_add_up_to_the_total_to_the_minor_unit() -> None:
    rng = np.random.default_rng(5)
    n = 20_000
    old = rng.integers(1, 50, n) * 1_000_000
    new = (old * rng.choice([0.5, 1.0, 1.13, 1.37], n)).astype(np.int64)
    decisions = _decisions(old.tolist(), new.tolist(), rng.random(n).tolist()).with_columns(
        pl.Series("grade", rng.choice(["excellent", "good", "fair", "poor"], n)),
        pl.Series("segment", rng.choice(["a", "b", "c"], n)),
    )
    accounts = _accounts(
        rng.integers(0, 3_000_000, n).tolist(), rng.integers(0, 200_000, n).tolist()
    )
    whole = account_figures(decisions, accounts, ASSUMPTIONS)
    # Four chunks, summed per (grade, segment), then combined: the same integers.
    chunks = [
        cell_sums(account_figures(decisions[i : i + 5_000], accounts, ASSUMPTIONS))
        for i in range(0, n, 5_000)
    ]
    figures = PolicyFigures("policy", "p", None, combine(chunks), ("excellent", "good"), ())
    parts = breakdown(figures)
    for f in FIGURES:
        assert parts["total"][f] == int(whole[f].sum())
        assert sum(v[f] for v in parts["by_grade"].values()) == parts["total"][f]
        assert sum(v[f] for v in parts["by_segment"].values()) == parts["total"][f]
    assert list(parts["by_grade"])[:2] == ["excellent", "good"]  # the policy's order first


def test_keeping_every_limit_changes_nothing_and_costs_no_message() -> None:
    decisions = _decisions([10_000_000, 5_000_000], [12_000_000, 2_500_000], [0.2, 0.3])
    figures = account_figures(kept(decisions), _accounts([0, 0], [0, 0]), ASSUMPTIONS)
    assert figures["changed"].sum() == 0
    assert figures["messages"].sum() == 0
    assert figures["limit_added"].sum() == 0
    assert figures["limit_removed"].sum() == 0
