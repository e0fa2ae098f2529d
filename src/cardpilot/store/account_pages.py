"""The accounts in pages (the HTTP API's account listing): keyset paging on the account id."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text

PAGE_COLUMNS = (
    "account_id",
    "customer_id",
    "currency",
    "credit_limit_minor",
    "status",
    "grade",
    "segment",
)


def account_page(conn: Connection, after: str | None, limit: int) -> list[dict[str, Any]]:
    """Up to ``limit`` accounts after the account id ``after`` (None: from the first)."""
    where = "" if after is None else " WHERE account_id > :after"
    rows = conn.execute(
        text(f"SELECT {', '.join(PAGE_COLUMNS)} FROM accounts{where} ORDER BY account_id LIMIT :n"),
        {"after": after, "n": limit},
    )
    return [dict(zip(PAGE_COLUMNS, r, strict=True)) for r in rows]
