"""A plan's ledger postings: the treatment's fees and waiver, the instalments, the plan's
waiver capped per fee at what is left, and its reinstatement."""

from __future__ import annotations

import datetime as dt

from cardpilot.ledger.postings import postings_frame
from cardpilot.ledger.waivers import unwaived
from cardpilot.overdue.plan_postings import (
    day_start,
    instalment_postings,
    plan_reinstatement_postings,
    plan_waiver_postings,
    treatment_fee_postings,
)

AT = day_start(dt.date(2005, 10, 1), "Asia/Shanghai")


def test_a_plan_never_waives_more_of_a_fee_than_the_treatment_left() -> None:
    fees = treatment_fee_postings("a", 7, AT, "TWD", (54_779, 0), 40_000)
    frame = postings_frame(fees)
    assert unwaived(frame, "treat:7:penalty_interest") == 14_779
    waiver = plan_waiver_postings(frame, "HP-a", 7, 27_390, AT)
    assert [p.amount_minor for p in waiver] == [-14_779]  # capped at what is left
    again = postings_frame([*fees, *waiver])
    assert plan_waiver_postings(again, "HP-a", 7, 27_390, AT) == []  # posted once
    back = plan_reinstatement_postings(again, "HP-a", AT)
    assert [(p.amount_minor, p.reference) for p in back] == [(14_779, "treat:7:penalty_interest")]


def test_instalments_due_are_memos_referring_to_the_plan() -> None:
    due = [(dt.date(2005, 11, 1), 614_794), (dt.date(2005, 12, 1), 614_785)]
    posted = instalment_postings("a", "HP-a", due, "Asia/Shanghai", "TWD")
    assert [(p.idempotency_key, p.amount_minor, p.reference) for p in posted] == [
        ("HP-a:due:1", 614_794, "HP-a"),
        ("HP-a:due:2", 614_785, "HP-a"),
    ]
