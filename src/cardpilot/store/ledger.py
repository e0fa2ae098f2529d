"""The account ledger in the store (``ledger_postings``): append-only writes, per-account reads.

Writes are insert-or-ignore on the unique ``idempotency_key`` on SQLite and PostgreSQL alike
(``ON CONFLICT (idempotency_key) DO NOTHING``), so writing a posting again adds nothing. An
import loads its postings through the bulk loaders (Arrow, binary ``COPY``) like any table and
then fixes each new account's opening balance with one set-based statement
(:func:`opening_balances_sql`), in the import's transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence

import polars as pl
from sqlalchemy import Connection, Engine, text
from sqlalchemy.dialects import postgresql, sqlite

from cardpilot.ledger.balances import BALANCE_SCHEMA, COMPONENTS, MONEY_KINDS
from cardpilot.ledger.postings import POSTING_SCHEMA, Posting, postings_frame
from cardpilot.store.frame_reads import query_frame
from cardpilot.store.ledger_models import LedgerPosting

TABLE = "ledger_postings"
COLUMNS = tuple(POSTING_SCHEMA)
OPENING_KEY_PREFIX = "open:"
_MONEY = ", ".join(f"'{k}'" for k in MONEY_KINDS)
# Accounts read together by ``iter_account_postings``.
CHECK_CHUNK_ACCOUNTS = 50_000


def insert_postings(conn: Connection, postings: Sequence[Posting] | pl.DataFrame) -> int:
    """Append ``postings`` (records or a ``POSTING_SCHEMA`` frame); those whose idempotency key
    is already stored are left out. Returns how many were added. The caller's transaction."""
    frame = postings if isinstance(postings, pl.DataFrame) else postings_frame(postings)
    if frame.height == 0:
        return 0
    table = LedgerPosting.__table__
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(table)
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(table.c.id)
    )
    return len(conn.execute(statement, frame.select(COLUMNS).to_dicts()).all())


def append_posting(conn: Connection, posting: Posting) -> bool:
    """One posting (a decision's, an event's); False when its key was already stored."""
    return insert_postings(conn, [posting]) == 1


def _count(conn: Connection) -> int:
    return int(conn.execute(text(f"SELECT count(*) FROM {TABLE}")).scalar_one())


_SELECT = (
    "SELECT account_id, kind, component, amount_minor, currency, effective_at, effective_on,"
    " source, idempotency_key, reference, basis, detail FROM ledger_postings"
)
_READ_SCHEMA = {**POSTING_SCHEMA, "effective_at": pl.Utf8()}


def _typed(frame: pl.DataFrame) -> pl.DataFrame:
    """``effective_at`` (read as text: SQLite keeps UTC text, PostgreSQL's COPY an offset) as
    a UTC timestamp."""
    at = pl.col("effective_at").str.replace(r"\+00(:00)?$", "").str.replace("T", " ")
    return frame.with_columns(
        at.str.to_datetime("%Y-%m-%d %H:%M:%S%.f", time_zone="UTC", time_unit="us")
    ).cast(POSTING_SCHEMA)  # type: ignore[arg-type]


def _at_text(conn: Connection) -> str:
    if conn.dialect.name == "postgresql":
        return "to_char(effective_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')"
    return "effective_at"


def account_postings(
    conn: Connection, account_id: str, as_of: dt.date | None = None
) -> pl.DataFrame:
    """One account's postings on or before ``as_of`` (all when None), in date order."""
    sql = _SELECT.replace("effective_at,", f"{_at_text(conn)} AS effective_at,", 1)
    sql += " WHERE account_id = :a"
    params: dict[str, object] = {"a": account_id}
    if as_of is not None:
        sql += " AND effective_on <= :d"
        params["d"] = as_of
    # An opening balance takes effect with the account's first posting and reads before it.
    sql += " ORDER BY effective_on, effective_at, kind <> 'opening_balance', id"
    return _typed(query_frame(conn, sql, params, _READ_SCHEMA))


def account_balance(
    conn: Connection, account_id: str, as_of: dt.date | None = None
) -> dict[str, int]:
    """One account's balance by component as of ``as_of`` (the sum of its money postings)."""
    sql = (
        f"SELECT component, sum(amount_minor) FROM {TABLE} WHERE account_id = :a"
        f" AND kind IN ({_MONEY})"
    )
    params: dict[str, object] = {"a": account_id}
    if as_of is not None:
        sql += " AND effective_on <= :d"
        params["d"] = as_of
    rows = conn.execute(text(sql + " GROUP BY component"), params).all()
    found = {str(c): int(s) for c, s in rows if c is not None}
    out = {c: found.get(c, 0) for c in COMPONENTS}
    return {**out, "total": sum(out.values())}


def balances_as_of(conn: Connection, as_of: dt.date | None = None) -> pl.DataFrame:
    """Every account's balance by component as of ``as_of`` (``BALANCE_SCHEMA``)."""
    sums = ", ".join(
        f"sum(CASE WHEN component = '{c}' THEN amount_minor ELSE 0 END)" for c in COMPONENTS
    )
    sql = f"SELECT account_id, {sums}, sum(amount_minor) FROM {TABLE} WHERE kind IN ({_MONEY})"
    params: dict[str, object] = {}
    if as_of is not None:
        sql += " AND effective_on <= :d"
        params["d"] = as_of
    sql += " GROUP BY account_id ORDER BY account_id"
    return query_frame(conn, sql, params, BALANCE_SCHEMA)


def iter_account_postings(
    db: Engine, chunk_accounts: int = CHECK_CHUNK_ACCOUNTS
) -> Iterator[tuple[pl.DataFrame, pl.DataFrame]]:
    """Every posting and statement, whole accounts at a time (``chunk_accounts`` accounts with
    postings a chunk): (postings, statements) per chunk."""
    with db.connect() as conn:
        ids = [
            str(r[0])
            for r in conn.execute(
                text(f"SELECT DISTINCT account_id FROM {TABLE} ORDER BY account_id")
            )
        ]
        sql = _SELECT.replace("effective_at,", f"{_at_text(conn)} AS effective_at,", 1)
        sql += " WHERE account_id >= :lo AND account_id <= :hi"
        statements = (
            "SELECT account_id, cycle_date, statement_balance_minor FROM statements"
            " WHERE account_id >= :lo AND account_id <= :hi"
        )
        for start in range(0, len(ids), chunk_accounts):
            chunk = ids[start : start + chunk_accounts]
            params = {"lo": chunk[0], "hi": chunk[-1]}
            yield (
                _typed(query_frame(conn, sql, params, _READ_SCHEMA)),
                query_frame(conn, statements, params, STATEMENT_SCHEMA),
            )


def posting_count(db: Engine) -> int:
    with db.connect() as conn:
        return _count(conn)


def opening_balances_sql(backend: str) -> str:
    """``INSERT … SELECT`` of an opening balance for each account with statements and none yet.

    An account's first statement fixes it: the balance that statement states, less what the
    account's postings up to that day already explain. It takes effect with the account's
    earliest posting, or at the start of the statement's day (UTC) when the account has no
    posting until then. Set-based (one pass over the postings) and idempotent: an account's
    opening balance has the key ``open:<account>``.
    """
    if backend == "postgresql":
        day_start = "f.cycle_date::timestamp AT TIME ZONE 'UTC'"
    else:
        day_start = "f.cycle_date || ' 00:00:00.000000'"  # SQLAlchemy's SQLite DateTime text
    # The account's earliest posting is on or before its first statement.
    early = "p.first_on IS NOT NULL AND p.first_on <= f.cycle_date"
    return (
        f"INSERT INTO {TABLE} (account_id, kind, component, amount_minor, currency,"
        " effective_at, effective_on, source, idempotency_key)"
        " SELECT f.account_id, 'opening_balance', 'principal',"
        " s.statement_balance_minor - coalesce(p.explained, 0), a.currency,"
        f" CASE WHEN {early} THEN p.first_at ELSE {day_start} END,"
        f" CASE WHEN {early} THEN p.first_on ELSE f.cycle_date END, 'import', "
        f"'{OPENING_KEY_PREFIX}' || f.account_id"
        " FROM (SELECT account_id, min(cycle_date) AS cycle_date FROM statements"
        " GROUP BY account_id) f"
        " JOIN statements s ON s.account_id = f.account_id AND s.cycle_date = f.cycle_date"
        " JOIN accounts a ON a.account_id = f.account_id"
        " LEFT JOIN (SELECT q.account_id,"
        f" sum(CASE WHEN q.kind IN ({_MONEY}) AND q.effective_on <= g.cycle_date"
        " THEN q.amount_minor ELSE 0 END) AS explained,"
        " min(q.effective_at) AS first_at, min(q.effective_on) AS first_on"
        f" FROM {TABLE} q JOIN (SELECT account_id, min(cycle_date) AS cycle_date"
        " FROM statements GROUP BY account_id) g ON g.account_id = q.account_id"
        " GROUP BY q.account_id) p ON p.account_id = f.account_id"
        f" WHERE NOT EXISTS (SELECT 1 FROM {TABLE} o"
        f" WHERE o.idempotency_key = '{OPENING_KEY_PREFIX}' || f.account_id)"
        " ON CONFLICT DO NOTHING"
    )


STATEMENT_SCHEMA: dict[str, pl.DataType] = {
    "account_id": pl.Utf8(),
    "cycle_date": pl.Date(),
    "statement_balance_minor": pl.Int64(),
}


__all__ = [
    "BALANCE_SCHEMA",
    "COLUMNS",
    "STATEMENT_SCHEMA",
    "TABLE",
    "account_balance",
    "account_postings",
    "append_posting",
    "balances_as_of",
    "insert_postings",
    "iter_account_postings",
    "opening_balances_sql",
    "posting_count",
]
