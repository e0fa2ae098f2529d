"""The local engine streams: bounded memory, Parquet in and out, DuckDB batches."""

from __future__ import annotations

import datetime as dt

import duckdb
import polars as pl
import pyarrow as pa
from polars.testing import assert_frame_equal

from cardpilot.engines.local import (
    batches_from_frame,
    batches_from_parquet,
    decide_batches,
    review_local,
)
from cardpilot.engines.sample import sample_features
from cardpilot.policy.limits import decide_limits
from cardpilot.policy.loading import load_policy

AS_OF = dt.date(2026, 12, 1)


def test_batches_are_decided_one_at_a_time():
    policy = load_policy()
    pulled: list[int] = []

    def source():
        for i, batch in enumerate(batches_from_frame(sample_features(600, 3), chunk_rows=100)):
            pulled.append(i)
            yield batch

    stream = decide_batches(source(), policy, AS_OF)
    first = next(stream)
    assert first.num_rows == 100
    assert pulled == [0]  # nothing read ahead: memory is bounded by the chunk size
    assert sum(b.num_rows for b in stream) == 500


def test_parquet_in_parquet_out_matches_in_memory(tmp_path):
    policy = load_policy()
    features = sample_features(1_000, 4)
    source = tmp_path / "features.parquet"
    features.write_parquet(source)
    sink = tmp_path / "decisions.parquet"
    rows = review_local(batches_from_parquet(source, chunk_rows=256), policy, AS_OF, sink=sink)
    assert rows == 1_000
    assert_frame_equal(pl.read_parquet(sink), decide_limits(features, policy, AS_OF))


def test_duckdb_query_batches_feed_the_engine():
    policy = load_policy()
    features = sample_features(500, 5)  # DuckDB reads the local frame by its name
    con = duckdb.connect()
    reader = con.sql("SELECT * FROM features ORDER BY account_id").to_arrow_reader(128)
    got: list[pa.RecordBatch] = []
    assert review_local(reader, policy, AS_OF, sink=got.append) == 500
    out = pl.from_arrow(pa.Table.from_batches(got))
    assert out["account_id"].to_list() == sorted(features["account_id"].to_list())
