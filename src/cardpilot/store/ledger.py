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
from typing import Any

import polars as pl
from sqlalchemy import Connection, Engine, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

from cardpilot.ledger.balances import BALANCE_SCHEMA, COMPONENTS, MONEY_KINDS
from cardpilot.ledger.postings import POSTING_SCHEMA, Posting, postings_frame
from cardpilot.store.frame_reads import query_frame, query_rows
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


def account_posting_rows(
    conn: Connection, account_id: str, as_of: dt.date | None = None
) -> list[dict[str, Any]]:
    """``account_postings`` as plain rows (one account's story reads a few dozen: a frame
    costs more than they do): ``effective_at`` a UTC datetime, ``effective_on`` a date."""
    sql = _SELECT.replace("effective_at,", f"{_at_text(conn)} AS effective_at,", 1)
    sql += " WHERE account_id = :a"
    params: dict[str, object] = {"a": account_id}
    if as_of is not None:
        sql += " AND effective_on <= :d"
        params["d"] = as_of
    sql += " ORDER BY effective_on, effective_at, kind <> 'opening_balance', id"
    rows = query_rows(conn, sql, params)
    for row in rows:
        on = row["effective_on"]
        row["effective_on"] = dt.date.fromisoformat(on[:10]) if isinstance(on, str) else on
        at = dt.datetime.fromisoformat(str(row["effective_at"]))
        row["effective_at"] = (
            at.replace(tzinfo=dt.UTC) if at.tzinfo is None else at.astimezone(dt.UTC)
        )
    return rows


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


# A payment older than this cannot count towards an account's latest statement (two cycles).
PAYMENT_LOOKBACK_DAYS = 62
PAYMENT_SCHEMA: dict[str, pl.DataType] = {
    "account_id": pl.Utf8(),
    "paid_on": pl.Date(),
    "amount_minor": pl.Int64(),
}


def ledger_payments(
    conn: Connection, as_of: dt.date, lo: str | None = None, hi: str | None = None
) -> pl.DataFrame:
    """The ledger's payments of the last ``PAYMENT_LOOKBACK_DAYS`` up to ``as_of`` (of the
    accounts ``lo``..``hi`` when given): ``account_id, paid_on`` (the business day),
    ``amount_minor`` (> 0)."""
    sql = (
        f"SELECT account_id, effective_on, -amount_minor FROM {TABLE} WHERE kind = 'payment'"
        " AND effective_on > :since AND effective_on <= :d"
    )
    since = as_of - dt.timedelta(days=PAYMENT_LOOKBACK_DAYS)
    params: dict[str, object] = {"since": since, "d": as_of}
    if lo is not None and hi is not None:
        sql += " AND account_id BETWEEN :lo AND :hi"
        params |= {"lo": lo, "hi": hi}
    return query_frame(conn, sql, params, PAYMENT_SCHEMA)


def posting_count(db: Engine) -> int:
    with db.connect() as conn:
        return _count(conn)


def ledger_footprint(db: Engine) -> tuple[int, int | None]:
    """The ledger's rows and its bytes on disk, its indexes included (SQLite: the pages of the
    table and its indexes, from ``dbstat``; PostgreSQL: ``pg_total_relation_size``); None
    where the size cannot be read (a SQLite built without ``dbstat``)."""
    with db.connect() as conn:
        rows = _count(conn)
        if conn.dialect.name == "postgresql":
            size = conn.execute(text(f"SELECT pg_total_relation_size('{TABLE}')")).scalar_one()
            return rows, int(size)
        try:
            size = conn.execute(
                text(
                    "SELECT SUM(pgsize) FROM dbstat WHERE name IN (SELECT name FROM sqlite_master"
                    f" WHERE tbl_name = '{TABLE}')"
                )
            ).scalar_one()
        except DBAPIError:
            return rows, None
    return rows, None if size is None else int(size)


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


STATEMENT_KEY_PREFIX = "st:"
DERIVED_KEY_PREFIX = "stm:"


def statement_postings_sql(backend: str) -> str:
    """``INSERT … SELECT`` of the postings a statements-only portfolio's statements imply, for
    each statement not yet posted (no ``st:<account>:<cycle>`` memo) of an account with no
    imported transaction (``tx:``): as the UCI layout derives them (``ledger.derive``), set-based
    so that an account's previous statement is found whatever import or chunk brought it.

    Per statement: a ``statement_issued`` memo of its stated balance (``st:<account>:<cycle>``);
    what it says was paid (``amount_paid``) as a payment (``stm:<account>:<cycle>:paid``) on
    the previous statement's due date (the statement's own cycle date for the first one, or
    when that due date is later); and the movement the payment leaves unexplained
    (balance − previous balance + paid) as a purchase or a refund on the cycle date
    (``stm:<account>:<cycle>:moved``; none for an account's first statement, whose movement is
    part of its opening balance). Days are business days; the instants are the start of the
    day in UTC, as for the opening balance. Idempotent: every posting has its key.
    """
    if backend == "postgresql":
        day = "to_char({d}, 'YYYYMMDD')"
        start = "{d}::timestamp AT TIME ZONE 'UTC'"
    else:
        day = "strftime('%Y%m%d', {d})"
        start = "{d} || ' 00:00:00.000000'"
    paid_on = (
        "CASE WHEN prev_due IS NULL OR prev_due > cycle_date THEN cycle_date ELSE prev_due END"
    )
    moved = "bal - prev_bal + paid"
    columns = (
        "account_id, kind, component, amount_minor, currency, effective_at, effective_on,"
        " source, idempotency_key"
    )
    key = f"account_id || ':' || {day.format(d='cycle_date')}"
    return (
        f"INSERT INTO {TABLE} ({columns})"
        " WITH s AS (SELECT st.account_id, st.cycle_date, st.statement_balance_minor AS bal,"
        " st.amount_paid_minor AS paid, a.currency,"
        " LAG(st.due_date) OVER (PARTITION BY st.account_id ORDER BY st.cycle_date) AS prev_due,"
        " LAG(st.statement_balance_minor) OVER (PARTITION BY st.account_id"
        " ORDER BY st.cycle_date) AS prev_bal"
        " FROM statements st JOIN accounts a ON a.account_id = st.account_id"
        f" WHERE NOT EXISTS (SELECT 1 FROM {TABLE} t WHERE t.account_id = st.account_id"
        " AND substr(t.idempotency_key, 1, 3) = 'tx:')),"
        f" n AS (SELECT s.*, {paid_on} AS paid_on FROM s WHERE NOT EXISTS (SELECT 1 FROM {TABLE} p"
        f" WHERE p.idempotency_key = '{STATEMENT_KEY_PREFIX}' || s.{key}))"
        " SELECT * FROM ("
        "SELECT account_id, 'statement_issued' AS kind, NULL AS component, bal AS amount_minor,"
        f" currency, {start.format(d='cycle_date')} AS effective_at, cycle_date AS effective_on,"
        f" 'import' AS source, '{STATEMENT_KEY_PREFIX}' || {key} AS idempotency_key FROM n"
        " UNION ALL SELECT account_id, 'payment', 'principal', -paid, currency,"
        f" {start.format(d=paid_on)}, {paid_on}, 'import',"
        f" '{DERIVED_KEY_PREFIX}' || {key} || ':paid' FROM n WHERE paid > 0"
        " UNION ALL SELECT account_id,"
        f" CASE WHEN {moved} > 0 THEN 'purchase' ELSE 'refund' END, 'principal', {moved},"
        f" currency, {start.format(d='cycle_date')}, cycle_date, 'import',"
        f" '{DERIVED_KEY_PREFIX}' || {key} || ':moved'"
        f" FROM n WHERE prev_bal IS NOT NULL AND {moved} <> 0"
        ") u WHERE true ON CONFLICT DO NOTHING"
    )


STATEMENT_SCHEMA: dict[str, pl.DataType] = {
    "account_id": pl.Utf8(),
    "cycle_date": pl.Date(),
    "statement_balance_minor": pl.Int64(),
}


__all__ = [
    "BALANCE_SCHEMA",
    "COLUMNS",
    "PAYMENT_LOOKBACK_DAYS",
    "STATEMENT_SCHEMA",
    "TABLE",
    "account_balance",
    "account_postings",
    "append_posting",
    "balances_as_of",
    "insert_postings",
    "iter_account_postings",
    "ledger_footprint",
    "ledger_payments",
    "opening_balances_sql",
    "posting_count",
    "statement_postings_sql",
]
