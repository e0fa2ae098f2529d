"""A decrease trigger counts the overdue months since the account's last limit change, so a cut
is never made twice on the same overdue months (``<count>_since_limit_change``)."""

from __future__ import annotations

import datetime as dt

EXCELLENT = 810
CHANGED_ON = dt.date(2026, 10, 1)


def test_excellent_grade_is_not_cut_again_on_the_overdue_months_it_was_cut_for(decide):
    d = decide(
        score=EXCELLENT,
        consecutive_overdue_months=4,
        months_overdue_latest=4,
        last_limit_change_on=CHANGED_ON,
        consecutive_overdue_months_since_limit_change=1,
        months_overdue_latest_since_limit_change=4,
    )
    assert d["action"] != "decrease"


def test_excellent_grade_is_cut_again_after_three_overdue_months_since_its_cut(decide):
    d = decide(
        score=EXCELLENT,
        consecutive_overdue_months=6,
        months_overdue_latest=6,
        last_limit_change_on=dt.date(2026, 8, 1),
        consecutive_overdue_months_since_limit_change=3,
    )
    assert d["action"] == "decrease"
    assert d["reason_codes"][0] == "DECREASE_CONSECUTIVE_OVERDUE"


def test_without_counts_since_a_change_the_trigger_reads_the_whole_window(decide):
    d = decide(
        score=EXCELLENT,
        consecutive_overdue_months=3,
        months_overdue_latest=3,
        last_limit_change_on=CHANGED_ON,
    )
    assert d["action"] == "decrease"


def test_counts_since_a_change_steer_only_the_decrease_trigger_not_the_overdue_guard(decide):
    d = decide(
        consecutive_overdue_months=1,
        months_overdue_latest=1,
        last_limit_change_on=dt.date(2026, 1, 1),
        consecutive_overdue_months_since_limit_change=0,
        months_overdue_latest_since_limit_change=0,
    )
    assert d["action"] == "keep"
    assert d["reason_codes"][0] == "KEEP_CURRENTLY_OVERDUE"
