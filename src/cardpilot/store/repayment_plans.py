"""和谐还款 plans in the store (``repayment_plans``, ``plan_events``) and what a plan step reads
beside them: the account's latest treatment, its unpaid minimum, its payments.

A plan's state is never written directly by a caller: events are inserted (unique
``event_id``: an event recorded twice is stored once), the customer's events folded, and the
fold written back with :func:`write_plan_state` and :func:`write_event_outcome`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, Table, bindparam, text
from sqlalchemy.dialects import postgresql, sqlite

from cardpilot.store.overdue_models import PlanEvent, RepaymentPlan

OPEN_STATUSES = ("offered", "accepted", "active")


def as_date(value: Any) -> dt.date:
    """A date from what a driver returns (a date, a datetime, or ISO text on SQLite)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def _insert_new(conn: Connection, table: Table, rows: Sequence[dict[str, Any]], key: str) -> int:
    """Insert rows, skipping those whose ``key`` is already stored; returns rows added."""
    if not rows:
        return 0
    dialect: Any = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = (
        dialect.insert(table).on_conflict_do_nothing(index_elements=[key]).returning(table.c[key])
    )
    added = 0
    for row in rows:  # one by one: a returned key tells a new row from a known one
        added += len(conn.execute(stmt, row).all())
    return added


def insert_plan(conn: Connection, row: dict[str, Any]) -> int:
    """Store an offered plan (one already stored under its id is kept); returns rows added."""
    return _insert_new(conn, RepaymentPlan.__table__, [row], "plan_id")  # type: ignore[arg-type]


def insert_plan_events(conn: Connection, rows: Sequence[dict[str, Any]]) -> int:
    """Store plan events (duplicates by ``event_id`` are skipped); returns rows added."""
    return _insert_new(conn, PlanEvent.__table__, rows, "event_id")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- the fold


def customer_plans(conn: Connection, customer_id: str) -> dict[str, Row[Any]]:
    """The customer's plans by id (every column)."""
    rows = conn.execute(
        text("SELECT * FROM repayment_plans WHERE customer_id = :c"), {"c": customer_id}
    )
    return {r.plan_id: r for r in rows}


def customer_events(conn: Connection, customer_id: str) -> list[Row[Any]]:
    """The events of the customer's plans (``id, event_id, plan_id, kind, event_date,
    amount_minor``; ``id`` is the order they were recorded in), unordered."""
    return list(
        conn.execute(
            text(
                "SELECT id, event_id, plan_id, kind, event_date, amount_minor FROM plan_events"
                " WHERE customer_id = :c"
            ),
            {"c": customer_id},
        )
    )


_PLAN_STATE_UPDATE = text(
    "UPDATE repayment_plans SET status = :status, paid_minor = :paid,"
    " waived_minor = :waived, reinstated_minor = :reinstated,"
    " status_on = :on, status_reason = :reason WHERE plan_id = :plan"
)
_EVENT_OUTCOME_UPDATE = text(
    "UPDATE plan_events SET outcome = :outcome, from_status = :from_status,"
    " to_status = :to_status, reason = :reason WHERE event_id = :event_id"
)


def write_plan_state(conn: Connection, plan_id: str, state: dict[str, Any]) -> None:
    """The plan row's cache of the fold: ``status, paid, waived, reinstated, on, reason``."""
    conn.execute(_PLAN_STATE_UPDATE, {**state, "plan": plan_id})


def write_event_outcome(conn: Connection, event_id: str, outcome: dict[str, Any]) -> None:
    """What the fold made of an event: ``outcome, from_status, to_status, reason``."""
    conn.execute(_EVENT_OUTCOME_UPDATE, {**outcome, "event_id": event_id})


def event_outcome(conn: Connection, event_id: str) -> tuple[str | None, str | None] | None:
    """(outcome, reason) of a stored event; None when it is not stored."""
    row = conn.execute(
        text("SELECT outcome, reason FROM plan_events WHERE event_id = :e"), {"e": event_id}
    ).first()
    return None if row is None else (row[0], row[1])


# --------------------------------------------------------------------------- an offer


def account_customer(conn: Connection, account_id: str) -> str | None:
    row = conn.execute(
        text("SELECT customer_id FROM accounts WHERE account_id = :a"), {"a": account_id}
    ).first()
    return None if row is None else str(row[0])


def account_currency(conn: Connection, account_id: str) -> str:
    row = conn.execute(
        text("SELECT currency FROM accounts WHERE account_id = :a"), {"a": account_id}
    ).first()
    return "CNY" if row is None or row[0] is None else str(row[0])


def plan_customer(conn: Connection, plan_id: str) -> str | None:
    row = conn.execute(
        text("SELECT customer_id FROM repayment_plans WHERE plan_id = :p"), {"p": plan_id}
    ).first()
    return None if row is None else str(row[0])


def latest_treatment(conn: Connection, account_id: str, on: dt.date) -> Row[Any] | None:
    """The account's latest overdue treatment on or before ``on`` (what an offer rests on)."""
    return conn.execute(
        text(
            "SELECT t.id, t.as_of, t.risk_segment, t.risk_level, t.harmony_eligible,"
            " t.eligible_plans, t.days_past_due, t.overdue_balance_minor, t.policy_version,"
            " t.penalty_interest_minor, t.late_fee_minor, t.fee_waived_minor"
            " FROM overdue_treatments t WHERE t.account_id = :a AND t.as_of <= :on"
            " ORDER BY t.as_of DESC LIMIT 1"
        ),
        {"a": account_id, "on": on},
    ).first()


def standing_plan_waivers(conn: Connection, treatment_id: int) -> int:
    """The waivers standing on the fees of a treatment from the plans that rest on it (kept,
    or provisional while active; a broken plan's waiver was reinstated)."""
    return int(
        conn.execute(
            text(
                "SELECT COALESCE(SUM(waived_minor), 0) FROM repayment_plans"
                " WHERE treatment_id = :t AND status IN ('active', 'kept')"
            ),
            {"t": treatment_id},
        ).scalar_one()
    )


def unpaid_minimum_on(conn: Connection, account_id: str, on: dt.date) -> int:
    """The unpaid part of the minimum payment of the account's latest statement on or before
    ``on`` (0 without a statement or a stated minimum)."""
    row = conn.execute(
        text(
            "SELECT minimum_due_minor, amount_paid_minor FROM statements"
            " WHERE account_id = :a AND cycle_date <= :on ORDER BY cycle_date DESC LIMIT 1"
        ),
        {"a": account_id, "on": on},
    ).first()
    if row is None or row[0] is None:
        return 0
    return max(0, int(row[0]) - int(row[1] or 0))


# --------------------------------------------------------------------------- advancing


def open_plans(conn: Connection, as_of: dt.date) -> list[Row[Any]]:
    """Plans still open and offered on or before ``as_of`` (``plan_id, account_id,
    customer_id, offered_on``), in id order."""
    marks = ", ".join(f"'{s}'" for s in OPEN_STATUSES)
    return list(
        conn.execute(
            text(
                "SELECT plan_id, account_id, customer_id, offered_on FROM repayment_plans"
                f" WHERE status IN ({marks}) AND offered_on <= :d ORDER BY plan_id"
            ),
            {"d": as_of},
        )
    )


def account_payment_transactions(conn: Connection, account_id: str) -> list[tuple[str, Any, int]]:
    """The account's payments (transaction id, posted at as the driver returns it, amount)
    by time."""
    rows = conn.execute(
        text(
            "SELECT transaction_id, posted_at, amount_minor FROM transactions"
            " WHERE account_id = :a AND kind = 'payment' ORDER BY posted_at"
        ),
        {"a": account_id},
    )
    return [(str(r[0]), r[1], int(r[2])) for r in rows]


def statement_payments(
    conn: Connection, account_id: str, after: dt.date, up_to: dt.date
) -> list[tuple[dt.date, int]]:
    """(cycle date, amount paid) of the account's statements in ``(after, up_to]`` that
    state a payment, by date."""
    rows = conn.execute(
        text(
            "SELECT cycle_date, amount_paid_minor FROM statements WHERE account_id = :a"
            " AND cycle_date > :lo AND cycle_date <= :hi AND amount_paid_minor > 0"
            " ORDER BY cycle_date"
        ),
        {"a": account_id, "lo": after, "hi": up_to},
    )
    return [(as_date(cycle), int(paid)) for cycle, paid in rows]


def status_counts(conn: Connection, plan_ids: Sequence[str]) -> dict[str, int]:
    """Plans of ``plan_ids`` per status."""
    counts: dict[str, int] = {}
    query = text(
        "SELECT status, COUNT(*) FROM repayment_plans WHERE plan_id IN :ids GROUP BY status"
    ).bindparams(bindparam("ids", expanding=True))
    for start in range(0, len(plan_ids), 500):
        for status, n in conn.execute(query, {"ids": list(plan_ids[start : start + 500])}):
            counts[str(status)] = counts.get(str(status), 0) + int(n)
    return counts


# --------------------------------------------------------------------------- reading


def plan_rows(
    conn: Connection, *, plan_id: str | None = None, account_id: str | None = None
) -> list[Row[Any]]:
    """Plans (one, an account's, or all; every column, and the account's currency) by offer
    date and id."""
    where, params = "", {}
    if plan_id is not None:
        where, params = "WHERE p.plan_id = :p", {"p": plan_id}
    elif account_id is not None:
        where, params = "WHERE p.account_id = :a", {"a": account_id}
    return list(
        conn.execute(
            text(
                "SELECT p.*, a.currency AS currency FROM repayment_plans p"
                f" JOIN accounts a ON a.account_id = p.account_id {where}"
                " ORDER BY p.offered_on, p.plan_id"
            ),
            params,
        )
    )


def plan_event_rows(conn: Connection, plan_id: str) -> list[Row[Any]]:
    """A plan's events with what the fold made of them, unordered."""
    return list(
        conn.execute(
            text(
                "SELECT id, event_id, kind, event_date, amount_minor, source, outcome,"
                " from_status, to_status, reason FROM plan_events WHERE plan_id = :p"
            ),
            {"p": plan_id},
        )
    )
