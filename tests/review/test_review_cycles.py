"""A review decides an account at most once per cycle and only on statements newer than its last
decision: a review in the next cycle with no new statement decides nothing, and says why."""

from __future__ import annotations

import datetime as dt

from store_counts import count_rows

from cardpilot.jobs.review import review_portfolio

FIRST = dt.date(2026, 11, 1)  # cycle 2026-H2; the portfolio's last statement is 2026-10-31
NEXT_CYCLE = dt.date(2027, 1, 2)  # cycle 2027-H1, no statement since


def test_a_review_in_the_next_cycle_without_new_statements_decides_nothing(loaded_store, scorer):
    first = review_portfolio(loaded_store, scorer, as_of=FIRST, chunk_rows=500)
    history = count_rows(loaded_store, "limit_history")
    again = review_portfolio(loaded_store, scorer, as_of=NEXT_CYCLE, chunk_rows=500)
    # The first run's decreases, past their notice period, took effect before it read anything.
    decreases = first.by_action.get("decrease", 0)
    assert decreases > 0
    assert again.pending_applied == decreases
    assert first.decided > 0
    assert again.cycle_id == "2027-H1"
    assert again.decided == 0
    assert again.skipped_no_new_evidence == first.decided
    assert again.skipped_within_cycle == 0
    assert again.by_action == {}
    assert count_rows(loaded_store, "limit_history") == history + decreases


def test_a_second_run_in_the_cycle_counts_its_accounts_as_decided_in_the_cycle(
    loaded_store, scorer
):
    first = review_portfolio(loaded_store, scorer, as_of=FIRST, chunk_rows=500)
    again = review_portfolio(loaded_store, scorer, as_of=FIRST, chunk_rows=500)
    assert again.decided == 0
    assert again.skipped_within_cycle == first.decided
    assert again.skipped_no_new_evidence == 0
