"""Reviews across cycles on the real UCI data: a review decides an account only on statements
newer than its last decision, and a decrease trigger counts overdue months since the last limit
change.

import → review as of 2005-10-01 → review as of 2006-01-01 with no new statement (nothing
decided) → one more statement for 100 accounts (tests/fixtures/uci-further-cycle, October 2005:
each account's September bill and payment again, its delay one month longer when it was late)
→ review again: only those 100 are decided. Through the CLI, as a bank runs it (the scenario is
``review_cycles``, conftest; the second review that decides nothing is the first case of
``test_account_over_time.py``). Skipped when ../shared/data is absent.
"""

from __future__ import annotations

import polars as pl
import pytest

pytestmark = [pytest.mark.realdata, pytest.mark.slow]


def test_a_first_review_of_the_real_data_decides_every_account(review_cycles):
    assert review_cycles["first"]["decided"] == 30_000
    assert review_cycles["first"]["skipped"] == 0


def test_only_the_accounts_with_a_further_statement_are_decided_again(review_cycles):
    assert review_cycles["import"]["statements"] == 100
    further = review_cycles["further"]
    assert further["decided"] == 100
    assert further["skipped_no_new_evidence"] == 29_900
    decided = review_cycles["decisions"].filter(pl.col("cycle_id") == "2006-H1")
    assert sorted(decided["account_id"].cast(pl.Int64)) == list(range(1, 101))


def test_a_decrease_trigger_counts_only_overdue_months_since_the_last_limit_change(review_cycles):
    decisions = review_cycles["decisions"]
    first = decisions.filter(pl.col("cycle_id") == "2005-H2").select(
        "account_id", pl.col("action").alias("first_action")
    )
    second = decisions.filter(pl.col("cycle_id") == "2006-H1").join(first, on="account_id")
    changed = second.filter(pl.col("first_action") != "keep")
    # One statement since the change: at most one overdue month counts, so the triggers of
    # three (excellent) and two (good) consecutive overdue months cannot fire again.
    recut = changed.filter(
        (pl.col("action") == "decrease") & pl.col("grade").is_in(["excellent", "good"])
    )
    assert recut.height == 0
    late_again = changed.filter(pl.col("consecutive_overdue_months") >= 3)
    assert late_again.height > 0
    # Account 1 (20,000 → 10,000 NT$ in the first run, poor) is late for a fourth month in
    # October: cut once more on that new month, which the poor grade's trigger (any overdue
    # month) acts on; the first cut's months are not counted again.
    account_1 = second.filter(pl.col("account_id") == "1").row(0, named=True)
    assert (account_1["old_limit_minor"], account_1["new_limit_minor"]) == (1_000_000, 500_000)
    assert account_1["grade"] == "poor"


def test_the_further_cycle_of_statements_only_posts_its_bills_and_the_ledger_reconciles(
    review_cycles,
):
    """The further cycle's file has statements only: its 100 statements are posted as the UCI
    import posts its own (a memo, the payment, the movement), against each account's September
    statement of the earlier import."""
    from cardpilot.jobs.ledger import check_ledger
    from cardpilot.store.db import make_engine

    assert review_cycles["import"]["postings"] == FURTHER_CYCLE_POSTINGS
    engine = make_engine(review_cycles["url"])
    try:
        check = check_ledger(engine)
    finally:
        engine.dispose()
    assert check.violations == 0, check.examples
    assert check.statements_checked == 180_100


FURTHER_CYCLE_POSTINGS = 260  # 100 statement memos, and the payments and movements they imply
