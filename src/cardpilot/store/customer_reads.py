"""What the customer commands read of one account: its limit, grade and currency, its
customer's declared income, and the instalments its ledger has due in the months ahead."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, Date, bindparam, text


def account_position(conn: Connection, account_id: str) -> dict[str, Any] | None:
    """``account_id, currency, credit_limit_minor, grade, annual_income_minor`` (None: no such
    account)."""
    row = conn.execute(
        text(
            "SELECT a.account_id, a.currency, a.credit_limit_minor, a.grade,"
            " c.annual_income_minor FROM accounts a"
            " LEFT JOIN customers c ON c.customer_id = a.customer_id WHERE a.account_id = :a"
        ),
        {"a": account_id},
    ).first()
    if row is None:
        return None
    keys = ("account_id", "currency", "credit_limit_minor", "grade", "annual_income_minor")
    return dict(zip(keys, row, strict=True))


def largest_month_of_instalments(conn: Connection, account_id: str, after: dt.date) -> int:
    """The largest total of instalments due in one calendar month after ``after``, from the
    account's ``instalment_due`` postings (0 when none)."""
    rows = conn.execute(
        text(
            "SELECT effective_on, amount_minor FROM ledger_postings WHERE account_id = :a"
            " AND kind = 'instalment_due' AND effective_on > :d"
        ).bindparams(bindparam("d", type_=Date)),
        {"a": account_id, "d": after},
    ).all()
    months: dict[tuple[int, int], int] = {}
    for day, amount in rows:
        day = dt.date.fromisoformat(str(day)[:10])
        months[(day.year, day.month)] = months.get((day.year, day.month), 0) + int(amount or 0)
    return max(months.values(), default=0)
