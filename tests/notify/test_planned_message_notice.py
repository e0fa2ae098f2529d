"""A planned message (reminder, early warning) becomes a notice that changes no limit, dated
the statement's due date or, without one, the plan's as-of date."""

from __future__ import annotations

import datetime as dt
from typing import Any

from cardpilot.notify.notice import NoticeReason, planned_message_notice

ROW: dict[str, Any] = {
    "decision_ref": "reminder:run-1:a1",
    "account_id": "a1",
    "customer_id": "c1",
    "currency": "CNY",
    "policy_version": "2026.11-overdue-2+abc",
    "due_date": dt.date(2026, 3, 20),
    "as_of": dt.date(2026, 2, 28),
}


def test_a_planned_message_changes_no_limit_and_is_due_on_the_due_date() -> None:
    reason = NoticeReason("RC_EW_PAYMENT_DROP", "还款减少", "Payments dropped")
    notice = planned_message_notice(
        ROW, message_type="overdue_gentle", extra={"k": 1}, reasons=(reason,)
    )
    assert (notice.old_limit_minor, notice.new_limit_minor, notice.action) == (0, 0, "keep")
    assert notice.decision_id == "reminder:run-1:a1"
    assert notice.effective_date == dt.date(2026, 3, 20)
    assert (notice.message_type, dict(notice.extra), notice.reasons) == (
        "overdue_gentle",
        {"k": 1},
        (reason,),
    )
    assert notice.policy_version == "2026.11-overdue-2+abc"


def test_without_a_due_date_the_message_is_dated_the_plans_as_of() -> None:
    notice = planned_message_notice({**ROW, "due_date": None}, message_type="m", extra={})
    assert notice.effective_date == dt.date(2026, 2, 28)
    assert notice.reasons == ()
