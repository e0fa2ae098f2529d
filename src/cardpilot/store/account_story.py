"""One account's records as of a day, for its story (``cardpilot account show``, the API).

Small per-account reads through the indexes each table already has: the account and its
customer, statements, ledger postings, limit decisions with their reason texts, pending
decreases, overdue
treatments, plans and their events, watch flags and the messages sent about the account.
Personal fields come back as stored (ciphertext); the story masks them.
"""

from __future__ import annotations

import datetime as dt
import weakref
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, inspect

from cardpilot.ledger.balances import balance_of_rows
from cardpilot.store.frame_reads import query_rows
from cardpilot.store.ledger import account_posting_rows
from cardpilot.store.pending_limits import PENDING_COLUMNS

Row = dict[str, Any]


@dataclass(frozen=True)
class AccountRecords:
    account: Row
    customer: Row
    postings: list[Row]  # the columns of POSTING_SCHEMA, in date order
    balance: Row  # by component and in total, as of the day: the sums of ``postings``
    statements: list[Row] = field(default_factory=list)
    decisions: list[Row] = field(default_factory=list)
    treatments: list[Row] = field(default_factory=list)
    plans: list[Row] = field(default_factory=list)
    plan_events: list[Row] = field(default_factory=list)
    watch_flags: list[Row] = field(default_factory=list)
    messages: list[Row] = field(default_factory=list)
    # Decreases in (or past) their notice period: pending, applied or superseded.
    pending_limits: list[Row] = field(default_factory=list)


def _rows(conn: Connection, sql: str, params: dict[str, Any]) -> list[Row]:
    return query_rows(conn, sql, params)


# The store's tables, read once per engine: a story is read many times a second in the HTTP
# service, and a table is added only by an upgrade, never while the store is served.
_TABLES: weakref.WeakKeyDictionary[Engine, frozenset[str]] = weakref.WeakKeyDictionary()


def _has_table(conn: Connection, name: str) -> bool:
    tables = _TABLES.get(conn.engine)
    if tables is None or name not in tables:  # a table made since (tests make stores)
        tables = _TABLES[conn.engine] = frozenset(inspect(conn).get_table_names())
    return name in tables


ACCOUNT = (
    "SELECT account_id, customer_id, currency, credit_limit_minor, temp_limit_minor,"
    " temp_limit_expires_on, open_date, status, grade, segment, last_review_on"
    " FROM accounts WHERE account_id = :a"
)
CUSTOMER = (
    "SELECT customer_id, name_enc, national_id_enc, phone_enc, email_enc, birth_year, locale,"
    " timezone FROM customers WHERE customer_id = :c"
)
STATEMENTS = (
    "SELECT cycle_date, due_date, credit_limit_minor, statement_balance_minor,"
    " minimum_due_minor, amount_paid_minor, purchases_minor, cash_advances_minor,"
    " repayment_status, days_past_due FROM statements"
    " WHERE account_id = :a AND cycle_date <= :d ORDER BY cycle_date"
)
DECISIONS = (
    "SELECT d.id, d.cycle_id, d.as_of, d.action, d.grade, d.segment, d.score, d.pd,"
    " d.old_limit_minor, d.new_limit_minor, d.reason_codes,"
    " coalesce(t.texts_zh, d.reason_texts_zh) AS reason_texts_zh,"
    " coalesce(t.texts_en, d.reason_texts_en) AS reason_texts_en,"
    " d.policy_version, d.model_version, d.decided_at"
    " FROM limit_decisions d LEFT JOIN reason_text_sets t ON t.id = d.reason_texts_id"
    " WHERE d.account_id = :a AND d.as_of <= :d ORDER BY d.as_of, d.id"
)
TREATMENTS = (
    "SELECT id, as_of, bucket, days_past_due, risk_level, treatment, limit_action,"
    " penalty_interest_minor, late_fee_minor, fee_waived_minor, old_limit_minor,"
    " new_limit_minor, reason_codes, reason_texts_zh, reason_texts_en, policy_version,"
    " model_version FROM overdue_treatments"
    " WHERE account_id = :a AND as_of <= :d ORDER BY as_of, id"
)
PLANS = (
    "SELECT plan_id, kind, months, principal_minor, penalty_fees_minor, waiver_share_bp,"
    " instalments, offered_on, accept_by, status, paid_minor, waived_minor,"
    " reinstated_minor, status_on, status_reason, policy_version FROM repayment_plans"
    " WHERE account_id = :a AND offered_on <= :d ORDER BY offered_on, plan_id"
)
PLAN_EVENTS = (
    "SELECT e.plan_id, e.event_id, e.kind, e.event_date, e.amount_minor, e.outcome,"
    " e.from_status, e.to_status, e.reason FROM plan_events e"
    " JOIN repayment_plans p ON p.plan_id = e.plan_id"
    " WHERE p.account_id = :a AND e.event_date <= :d ORDER BY e.event_date, e.id"
)
WATCH_FLAGS = (
    "SELECT cycle_date, rule, reason_code, detail FROM watch_flags"
    " WHERE account_id = :a AND cycle_date <= :d ORDER BY cycle_date, rule"
)
PENDING = (
    f"SELECT {', '.join(PENDING_COLUMNS)} FROM pending_limit_changes"
    " WHERE account_id = :a AND decided_on <= :d ORDER BY decided_on, id"
)
MESSAGES = (
    "SELECT message_type, category, channel, locale, state, decision_ref, created_at, sent_at"
    " FROM notify_outbox WHERE customer_id = :c AND (account_id = :a OR account_id IS NULL)"
    " AND created_at < :next ORDER BY created_at, id"
)


def read_account(conn: Connection, account_id: str, as_of: dt.date) -> AccountRecords | None:
    """Everything stored about ``account_id`` on or before ``as_of`` (None: no such account)."""
    accounts = _rows(conn, ACCOUNT, {"a": account_id})
    if not accounts:
        return None
    account = accounts[0]
    customers = _rows(conn, CUSTOMER, {"c": account["customer_id"]})
    params = {"a": account_id, "d": as_of}
    optional = {
        "decisions": ("limit_decisions", DECISIONS),
        "treatments": ("overdue_treatments", TREATMENTS),
        "plans": ("repayment_plans", PLANS),
        "plan_events": ("plan_events", PLAN_EVENTS),
        "watch_flags": ("watch_flags", WATCH_FLAGS),
        "pending_limits": ("pending_limit_changes", PENDING),
    }
    found = {
        name: _rows(conn, sql, params) if _has_table(conn, table) else []
        for name, (table, sql) in optional.items()
    }
    following_day = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time(), dt.UTC)
    messages = (
        _rows(conn, MESSAGES, {"a": account_id, "c": account["customer_id"], "next": following_day})
        if _has_table(conn, "notify_outbox")
        else []
    )
    postings = account_posting_rows(conn, account_id, as_of)
    return AccountRecords(
        account=account,
        customer=customers[0] if customers else {},
        postings=postings,
        balance=balance_of_rows(postings),
        statements=_rows(conn, STATEMENTS, params),
        messages=messages,
        **found,
    )
