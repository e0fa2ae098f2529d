"""PostgreSQL's bulk connection (pgpq's binary COPY over psycopg) writes and reads what ADBC did."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pyarrow as pa
import pytest

from cardpilot.store import bulk
from cardpilot.store.pg_copy import CopyConnection, pg_type_of

pytestmark = pytest.mark.postgres

_TABLE = """CREATE TABLE copied (
    id varchar(64) PRIMARY KEY, small smallint, whole integer, big bigint, flag boolean,
    ratio double precision, day date, at timestamptz, local_at timestamp, blob bytea, note text
)"""


@pytest.fixture
def pg_url(postgres_store_url: str) -> str:
    return postgres_store_url


def _rows() -> pa.Table:
    at = dt.datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=dt.UTC)
    frame = pl.DataFrame(
        {
            "id": ["a", "b", "中文"],
            "small": [1, None, -3],
            "whole": [70_000, 2, None],
            "big": [9_000_000_000, None, 0],
            "flag": [True, False, None],
            "ratio": [0.5, None, 1e-9],
            "day": [dt.date(2005, 9, 30), None, dt.date(1970, 1, 1)],
            "at": [at, None, at],
            "local_at": [dt.datetime(1999, 12, 31, 23, 59, 59), None, None],
            "blob": [b"\x00\x01", None, b""],
            "note": [None, "x", "with 'quote' and 100%"],
        },
        # Polars' own widths (Int64 for every integer) and layouts (string views): the
        # connection casts them to the columns' types.
        schema_overrides={"at": pl.Datetime("us", "UTC"), "local_at": pl.Datetime("ms")},
    )
    return frame.to_arrow()


def test_appended_rows_read_back_with_their_columns_types(pg_url: str) -> None:
    with bulk.managed_connection(pg_url) as conn:
        assert isinstance(conn, CopyConnection)
        bulk.execute(conn, _TABLE)
        bulk.execute(conn, "BEGIN")
        assert bulk.ingest(conn, "copied", _rows()) == 3
        back = bulk.read_arrow(conn, "SELECT * FROM copied ORDER BY id")
        bulk.execute(conn, "COMMIT")
    expected = pl.from_arrow(_rows())
    assert isinstance(expected, pl.DataFrame)
    got = pl.from_arrow(back)
    assert isinstance(got, pl.DataFrame)
    assert (got.schema["small"], got.schema["whole"]) == (pl.Int16, pl.Int32)
    assert (got.schema["at"], got.schema["day"]) == (pl.Datetime("us", "UTC"), pl.Date)
    sent = expected.with_columns(pl.col("local_at").cast(pl.Datetime("us"))).sort("id")
    assert got.to_dicts() == sent.to_dicts()


def test_replace_makes_a_temporary_table_of_the_rows_own_columns(pg_url: str) -> None:
    with bulk.managed_connection(pg_url) as conn:
        bulk.execute(conn, "BEGIN")
        bulk.ingest(conn, "staged", _rows(), mode="replace", temporary=True)
        again = pa.table({"v": pa.array(["only"], pa.large_string())})
        bulk.ingest(conn, "staged", again, mode="replace", temporary=True)
        assert bulk.read_arrow(conn, "SELECT v FROM staged").to_pylist() == [{"v": "only"}]
        kinds = bulk.read_arrow(
            conn, "SELECT relpersistence FROM pg_class WHERE relname = 'staged'"
        ).to_pylist()
        assert kinds == [{"relpersistence": "t"}]
        bulk.execute(conn, "COMMIT")


def test_positional_parameters_and_row_counts(pg_url: str) -> None:
    with bulk.managed_connection(pg_url) as conn:
        bulk.execute(conn, _TABLE)
        bulk.ingest(conn, "copied", _rows())
        changed = bulk.execute(
            conn, "UPDATE copied SET note = $1 WHERE id <> $2 AND note IS NOT NULL", ["z", "b"]
        )
        assert changed == 1
        found = bulk.read_arrow(conn, "SELECT id FROM copied WHERE note LIKE $1", ["z%"])
        assert found.to_pylist() == [{"id": "中文"}]


def test_an_unknown_column_or_type_is_an_error_that_names_it(pg_url: str) -> None:
    with bulk.managed_connection(pg_url) as conn:
        bulk.execute(conn, _TABLE)
        with pytest.raises(KeyError, match="nope"):
            bulk.ingest(conn, "copied", pa.table({"id": ["a"], "nope": [1]}))
    with pytest.raises(TypeError, match="list"):
        pg_type_of(pa.list_(pa.int64()))


def test_a_transaction_left_open_is_rolled_back(pg_url: str) -> None:
    with bulk.managed_connection(pg_url) as conn:
        bulk.execute(conn, _TABLE)
    with bulk.managed_connection(pg_url) as conn:
        bulk.execute(conn, "BEGIN")
        bulk.ingest(conn, "copied", _rows())
    with bulk.managed_connection(pg_url) as conn:
        assert bulk.read_arrow(conn, "SELECT count(*) AS n FROM copied").to_pylist() == [{"n": 0}]


def test_copy_arrow_writes_in_the_caller_s_transaction_cast_to_the_columns_types(
    pg_url: str,
) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    from cardpilot.store.pg_copy import copy_arrow

    libpq = make_url(pg_url).set(drivername="postgresql").render_as_string(hide_password=False)
    data = _rows().select(["id", "whole", "big", "day", "at", "note"])
    types = ["text", "integer", "bigint", "date", "timestamp with time zone", "text"]
    with psycopg.connect(libpq) as conn:
        conn.execute(
            "CREATE TEMP TABLE staged (id text, whole integer, big bigint, day date,"
            " at timestamptz, note text)"
        )
        with conn.cursor() as cursor:
            copy_arrow(cursor, "staged", data, types)
        got = conn.execute(
            "SELECT id, whole, big, day, at, note FROM staged ORDER BY big"
        ).fetchall()
        conn.rollback()
    at = dt.datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=dt.UTC)
    assert sorted(got, key=lambda r: r[0]) == [
        ("a", 70_000, 9_000_000_000, dt.date(2005, 9, 30), at, None),
        ("b", 2, None, None, None, "x"),
        ("中文", None, 0, dt.date(1970, 1, 1), at, "with 'quote' and 100%"),
    ]
