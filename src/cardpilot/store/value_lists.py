"""A column matched against a list of values bound as one parameter, not one a value.

``column.in_(values)`` binds each value as a parameter of its own, which SQLAlchemy expands
into the statement every time it runs: for the event intake's thousands of ids a batch, that
expansion cost more than the query. Here the list is one parameter: a JSON array read with
``json_each`` on SQLite, an array on PostgreSQL (``= ANY``, ``unnest``); the statement's shape
no longer depends on the list's length, so it is compiled once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import ARRAY, BigInteger, Connection, String, any_, func, literal, select, tuple_
from sqlalchemy.sql.elements import ColumnElement


def one_of(conn: Connection, column: Any, values: Sequence[str]) -> ColumnElement[bool]:
    """``column`` is one of ``values`` (text)."""
    if conn.dialect.name == "postgresql":
        return column == any_(literal(list(values), ARRAY(String())))  # type: ignore[no-any-return]
    listed = func.json_each(json.dumps(list(values))).table_valued("value")
    return column.in_(select(listed.c.value))  # type: ignore[no-any-return]


def pair_of(
    conn: Connection, first: Any, second: Any, pairs: Sequence[tuple[str, int]]
) -> ColumnElement[bool]:
    """``(first, second)`` is one of ``pairs`` (text, integer)."""
    texts = [p[0] for p in pairs]
    numbers = [p[1] for p in pairs]
    if conn.dialect.name == "postgresql":
        listed = select(
            func.unnest(literal(texts, ARRAY(String()))),
            func.unnest(literal(numbers, ARRAY(BigInteger()))),
        )
        return tuple_(first, second).in_(listed)
    rows = func.json_each(json.dumps([list(p) for p in pairs])).table_valued("value")
    listed = select(
        func.json_extract(rows.c.value, "$[0]"), func.json_extract(rows.c.value, "$[1]")
    )
    return tuple_(first, second).in_(listed)


# The same matches as statement text for the driver's own cursor (a statement's parameters in
# the driver's style: ``?`` on SQLite, ``%s`` on PostgreSQL), for reads whose rows SQLAlchemy's
# result layer would cost more to hand back than the query costs to run.


def one_of_sql(dialect: str, column: str, values: Iterable[str]) -> tuple[str, tuple[Any, ...]]:
    """Text and parameters of: ``column`` is one of ``values`` (text)."""
    if dialect == "postgresql":
        return f"{column} = ANY(%s::text[])", (list(values),)
    return f"{column} IN (SELECT value FROM json_each(?))", (json.dumps(list(values)),)


def pairs_sql(dialect: str, pairs: Iterable[tuple[str, int]]) -> tuple[str, tuple[Any, ...]]:
    """Text and parameters of a table ``k`` of ``pairs`` (text ``k0``, integer ``k1``), to be
    joined first (``FROM <it> CROSS JOIN t WHERE t.a = k.k0 AND t.b = k.k1``): each pair is then
    one look-up on an index over both columns, where a row-value ``IN`` searches SQLite's index
    on the first column alone."""
    if dialect == "postgresql":
        listed = list(pairs)
        texts = [p[0] for p in listed]
        numbers = [p[1] for p in listed]
        return "unnest(%s::text[], %s::bigint[]) AS k (k0, k1)", (texts, numbers)
    source = (
        "(SELECT json_extract(value, '$[0]') AS k0, json_extract(value, '$[1]') AS k1"
        " FROM json_each(?)) AS k"
    )
    # A tuple is a JSON array to the encoder: no list per pair.
    return source, (json.dumps(list(pairs)),)
