"""``frame_reads.query_rows`` on SQLite (the driver's own cursor) gives the rows SQLAlchemy's
``text()`` gives, with dates and datetimes (aware or not) bound the same way."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import create_engine, text

from cardpilot.store.frame_reads import query_rows


def test_query_rows_bind_and_return_as_sqlalchemy_does(tmp_path):
    db = create_engine(f"sqlite:///{tmp_path / 'q.db'}")
    with db.begin() as conn:
        conn.execute(text("CREATE TABLE t (id INTEGER, at TEXT, on_day TEXT, blob BLOB)"))
        conn.execute(
            text("INSERT INTO t VALUES (1, :at, :d, :b), (2, :later, :d, NULL)"),
            {
                "at": dt.datetime(2026, 10, 31, 23, 59, 59, 5, tzinfo=dt.UTC),
                "later": dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
                "d": dt.date(2026, 10, 31),
                "b": b"\x00\x01",
            },
        )
    sql = "SELECT id, at, on_day, blob FROM t WHERE at < :next AND on_day <= :d ORDER BY id"
    for params in (
        {"next": dt.datetime(2026, 11, 1, tzinfo=dt.UTC), "d": dt.date(2026, 10, 31)},
        {"next": dt.datetime(2026, 11, 1, 0, 0, 1), "d": dt.date(2026, 11, 30)},
    ):
        with db.connect() as conn:
            expected = [dict(r) for r in conn.execute(text(sql), params).mappings()]
            assert query_rows(conn, sql, params) == expected
            assert expected  # the comparison saw rows
    db.dispose()
