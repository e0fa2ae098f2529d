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

from sqlalchemy import ARRAY, Connection, String, any_, func, literal, select
from sqlalchemy.sql.elements import ColumnElement


def one_of(conn: Connection, column: Any, values: Sequence[str]) -> ColumnElement[bool]:
    """``column`` is one of ``values`` (text)."""
    if conn.dialect.name == "postgresql":
        return column == any_(literal(list(values), ARRAY(String())))  # type: ignore[no-any-return]
    listed = func.json_each(json.dumps(list(values))).table_valued("value")
    return column.in_(select(listed.c.value))  # type: ignore[no-any-return]


def looked_up(
    dialect: str,
    table: str,
    columns: Sequence[str],
    keys: Sequence[str],
    values: Iterable[Any],
    where: str = "",
) -> tuple[str, tuple[Any, ...]]:
    """A statement for the driver's own cursor (``?`` on SQLite, ``%b`` on PostgreSQL) and its
    parameters: ``columns`` of the rows of ``table`` (alias ``r``) whose ``keys`` equal one of
    ``values`` (one key: texts; two: (text, integer) pairs), and ``where`` holds. The values
    are one parameter (a JSON array, or an array a key) and the list drives the statement: each
    value is one look-up on an index over ``keys``, however many rows the table holds."""
    listed = list(values)
    names = ", ".join(f"r.{c}" for c in columns)
    match = " AND ".join(f"r.{key} = k.k{n}" for n, key in enumerate(keys))
    extra = f" AND {where}" if where else ""
    if dialect == "postgresql":
        params: tuple[Any, ...]
        # The lists go in binary (``%b``): psycopg encodes a list of thousands of texts in
        # its binary form at half the client's CPU of the text one, and the server reads it
        # for less too.
        if len(keys) == 1:
            source, params = "unnest(%b::text[]) AS k (k0)", (_list_parameter(dialect, listed),)
        else:
            source = "unnest(%b::text[], %b::bigint[]) AS k (k0, k1)"
            params = tuple(_list_parameter(dialect, [v[n] for v in listed]) for n in (0, 1))
        # OFFSET 0 keeps the subquery a look-up a value: a table grown since its last ANALYZE
        # looks small to the planner, which then hashes all of its rows instead.
        inner = f"SELECT * FROM {table} AS r WHERE {match}{extra} OFFSET 0"
        return f"SELECT {names} FROM {source} CROSS JOIN LATERAL ({inner}) AS r", params
    if len(keys) == 1:
        source = "(SELECT value AS k0 FROM json_each(?)) AS k"
    else:
        source = (
            "(SELECT json_extract(value, '$[0]') AS k0, json_extract(value, '$[1]') AS k1"
            " FROM json_each(?)) AS k"
        )
    # SQLite's CROSS JOIN keeps its left side the outer loop. A tuple is a JSON array to the
    # encoder: no list a pair.
    sql = f"SELECT {names} FROM {source} CROSS JOIN {table} AS r WHERE {match}{extra}"
    return sql, (_list_parameter(dialect, listed),)


def listed_values(conn: Connection, name: str) -> str:
    """A subquery of the text values of list parameter ``:name`` (bound with ``bound_list``),
    one column ``value``, for statements written as text."""
    if conn.dialect.name == "postgresql":
        return f"SELECT unnest(CAST(:{name} AS text[])) AS value"
    return f"SELECT value FROM json_each(:{name})"


def bound_list(conn: Connection, values: Sequence[str]) -> Any:
    """``values`` as the one parameter ``listed_values`` reads."""
    return _list_parameter(conn.dialect.name, values)


def _list_parameter(dialect: str, values: Sequence[Any]) -> Any:
    """``values`` as one parameter: an array on PostgreSQL, a JSON array on SQLite (a tuple
    is an array too)."""
    if dialect == "postgresql":
        return list(values)
    return json.dumps(list(values))
