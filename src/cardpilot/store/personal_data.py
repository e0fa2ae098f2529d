"""The encrypted personal fields and their blind index: which key made each value, and the
batches that re-encrypt them.

Every ciphertext starts ``v1:<key id>:`` and every blind-index value ``<key id>:`` followed by
its 32-byte digest (a value of exactly 32 bytes predates key ids on the index: ``legacy``), so
what a key still protects is counted from the values themselves, not from a column that could
disagree with them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    LargeBinary,
    and_,
    bindparam,
    func,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.sql.elements import ColumnElement

from cardpilot.store.models import Customer

# The encrypted columns, by table; and each blind index with the encrypted column it indexes.
ENCRYPTED_COLUMNS: dict[str, tuple[str, ...]] = {
    "customers": ("name_enc", "national_id_enc", "phone_enc", "email_enc"),
}
BLIND_INDEXES: dict[str, dict[str, str]] = {
    "customers": {"national_id_hmac": "national_id_enc"},
}
LEGACY_BLIND_INDEX = "legacy"
_DIGEST_BYTES = 32
_CIPHERTEXT_VERSION_BYTES = 3  # b"v1:"

# The key id between ``v1:`` and the next ``:`` (SQLite's instr and PostgreSQL's position both
# count bytes on binary values).
_CIPHERTEXT_KEY_ID = {
    "sqlite": "substr({c}, 4, instr(substr({c}, 4), X'3A') - 1)",
    "postgresql": "substr({c}, 4, position(decode('3a', 'hex') in substr({c}, 4)) - 1)",
}
_BLIND_KEY_ID = (
    f"CASE WHEN length({{c}}) = {_DIGEST_BYTES} THEN NULL "
    f"ELSE substr({{c}}, 1, length({{c}}) - {_DIGEST_BYTES + 1}) END"
)


@dataclass(frozen=True)
class KeyCount:
    """How many values of one column one key made."""

    table: str
    column: str
    kind: str  # "ciphertext" or "blind_index"
    key_id: str
    values: int


def _key_id(raw: Any) -> str:
    if raw is None:
        return LEGACY_BLIND_INDEX
    return bytes(raw).decode("ascii", errors="replace")


def key_counts(engine: Engine) -> list[KeyCount]:
    """Per table and column, the number of values under each key id (one scan per column)."""
    dialect = engine.dialect.name
    pattern = _CIPHERTEXT_KEY_ID.get(dialect)
    if pattern is None:
        raise NotImplementedError(f"key counts on {dialect} are not written")
    queries: list[tuple[str, str, str, str]] = []
    for table, columns in ENCRYPTED_COLUMNS.items():
        queries += [(table, c, "ciphertext", pattern.format(c=c)) for c in columns]
    for table, indexes in BLIND_INDEXES.items():
        queries += [(table, c, "blind_index", _BLIND_KEY_ID.format(c=c)) for c in indexes]
    out: list[KeyCount] = []
    with engine.connect() as conn:
        for table, column, kind, expression in queries:
            rows = conn.execute(
                text(
                    f"SELECT {expression} AS key_id, count(*) FROM {table}"
                    f" WHERE {column} IS NOT NULL GROUP BY 1"
                )
            ).all()
            counted = Counter({_key_id(kid): int(n) for kid, n in rows})
            out += [KeyCount(table, column, kind, k, n) for k, n in sorted(counted.items())]
    return out


@dataclass
class PersonalRow:
    """One customer's encrypted fields and blind index, as read and as to be written."""

    customer_id: str
    name_enc: bytes | None
    national_id_enc: bytes | None
    phone_enc: bytes | None
    email_enc: bytes | None
    national_id_hmac: bytes | None
    pii_key_id: str | None


_FIELDS = ("name_enc", "national_id_enc", "phone_enc", "email_enc", "national_id_hmac")


def _needs_rewrite(active_prefix: bytes, blind_prefix: bytes) -> ColumnElement[bool]:
    """Rows holding a value under another key, or an index under another (or no) blind key."""
    active = literal(active_prefix, LargeBinary)
    under_other_key = [
        and_(col.is_not(None), func.substr(col, 1, len(active_prefix)) != active)
        for col in (
            Customer.name_enc,
            Customer.national_id_enc,
            Customer.phone_enc,
            Customer.email_enc,
        )
    ]
    index = Customer.national_id_hmac
    stale_index = and_(
        Customer.national_id_enc.is_not(None),
        or_(
            index.is_(None),
            func.length(index) != len(blind_prefix) + _DIGEST_BYTES,
            func.substr(index, 1, len(blind_prefix)) != literal(blind_prefix, LargeBinary),
        ),
    )
    return or_(*under_other_key, stale_index)


def count_to_rewrite(engine: Engine, active_prefix: bytes, blind_prefix: bytes) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count()).where(_needs_rewrite(active_prefix, blind_prefix))
            ).scalar_one()
        )


def rewrite_batch(
    engine: Engine,
    *,
    after: str | None,
    limit: int,
    active_prefix: bytes,
    blind_prefix: bytes,
    rewrite: Callable[[PersonalRow], PersonalRow],
    before_commit: Callable[[], None] | None = None,
) -> tuple[str | None, int]:
    """Rewrite the next ``limit`` rows (by customer id, after ``after``) that need it.

    One transaction: every row of the batch is written, or none. A row is written only if it
    still holds what was read, so a value another process wrote meanwhile is never replaced
    by an older one. Returns the last customer id read (``None``: nothing left) and the number
    of rows written.
    """
    query = select(Customer.customer_id, *(getattr(Customer, f) for f in _FIELDS))
    query = query.add_columns(Customer.pii_key_id).where(
        _needs_rewrite(active_prefix, blind_prefix)
    )
    if after is not None:
        query = query.where(Customer.customer_id > after)
    query = query.order_by(Customer.customer_id).limit(limit)
    with engine.begin() as conn:
        rows = [_row(r) for r in conn.execute(query).all()]
        if not rows:
            return None, 0
        written = _write(conn, rows, [rewrite(r) for r in rows])
        if before_commit is not None:
            before_commit()
    return rows[-1].customer_id, written


def _row(values: Sequence[Any]) -> PersonalRow:
    customer_id, *blobs, key_id = values
    name, national_id, phone, email, index = (None if b is None else bytes(b) for b in blobs)
    return PersonalRow(customer_id, name, national_id, phone, email, index, key_id)


def _write(conn: Connection, old: Sequence[PersonalRow], new: Sequence[PersonalRow]) -> int:
    statement = update(Customer).where(
        Customer.customer_id == bindparam("b_customer_id"),
        *(getattr(Customer, f).is_not_distinct_from(bindparam(f"b_old_{f}")) for f in _FIELDS),
    )
    statement = statement.values(
        {f: bindparam(f"b_{f}") for f in _FIELDS} | {"pii_key_id": bindparam("b_pii_key_id")}
    )
    params = [
        {"b_customer_id": o.customer_id, "b_pii_key_id": n.pii_key_id}
        | {f"b_old_{f}": getattr(o, f) for f in _FIELDS}
        | {f"b_{f}": getattr(n, f) for f in _FIELDS}
        for o, n in zip(old, new, strict=True)
    ]
    result = conn.execute(statement, params)
    return int(result.rowcount)


def customer_ids_by_blind_index(engine: Engine, values: Sequence[bytes]) -> dict[bytes, list[str]]:
    """The customers whose national id has each blind-index value (a look-up without plaintext)."""
    out: dict[bytes, list[str]] = {bytes(v): [] for v in values}
    with engine.connect() as conn:
        for start in range(0, len(values), 500):
            chunk = [bytes(v) for v in values[start : start + 500]]
            rows = conn.execute(
                select(Customer.national_id_hmac, Customer.customer_id)
                .where(Customer.national_id_hmac.in_(chunk))
                .order_by(Customer.customer_id)
            ).all()
            for value, customer_id in rows:
                out[bytes(value or b"")].append(customer_id)
    return out
