"""A column matched against a list of values bound as one parameter, not one a value.

``column.in_(values)`` binds each value as a parameter of its own, which SQLAlchemy expands
into the statement every time it runs: for the event intake's thousands of ids a batch, that
expansion cost more than the query. Here the list is one parameter: a JSON array read with
``json_each`` on SQLite, an array on PostgreSQL (``= ANY``, ``unnest``); the statement's shape
no longer depends on the list's length, so it is compiled once.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
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


def listed_values(conn: Connection, name: str) -> str:
    """A subquery of the text values of list parameter ``:name`` (bound with ``bound_list``),
    one column ``value``, for statements written as text."""
    if conn.dialect.name == "postgresql":
        return f"SELECT unnest(CAST(:{name} AS text[])) AS value"
    return f"SELECT value FROM json_each(:{name})"


def bound_list(conn: Connection, values: Sequence[str]) -> Any:
    """``values`` as the one parameter ``listed_values`` reads."""
    if conn.dialect.name == "postgresql":
        return list(values)
    return json.dumps(list(values))
