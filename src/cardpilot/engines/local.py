"""The local engine: the decision function over a stream of Arrow record batches.

Memory stays bounded by the chunk size: each batch is decided and handed on before the next is
read. Sources are anything that yields ``pyarrow.RecordBatch`` (a Parquet dataset, a DuckDB
query's ``fetch_record_batch``, a Polars frame sliced into chunks); the sink is a callback,
a Parquet file written batch by batch, or an in-memory table for small runs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from cardpilot.policy.limits import ReasonTexts, decide_limits, decision_arrow_schema
from cardpilot.policy.schema import Policy

DEFAULT_CHUNK_ROWS = 65_536


def decide_batches(
    batches: Iterable[pa.RecordBatch],
    policy: Policy,
    as_of: dt.date,
    *,
    reason_texts: ReasonTexts | None = None,
) -> Iterator[pa.RecordBatch]:
    """Decide each batch with ``decide_limits``; yields decision batches in input order."""
    schema = decision_arrow_schema()
    for batch in batches:
        if batch.num_rows == 0:
            continue
        decided = decide_limits(batch, policy, as_of, reason_texts=reason_texts)
        yield from decided.to_arrow().cast(schema).to_batches()


def batches_from_parquet(
    path: Path | str, chunk_rows: int = DEFAULT_CHUNK_ROWS
) -> Iterator[pa.RecordBatch]:
    """Stream a Parquet file or folder of parts in chunks of at most ``chunk_rows`` rows."""
    yield from pads.dataset(str(path), format="parquet").to_batches(batch_size=chunk_rows)


def batches_from_frame(
    frame: pl.DataFrame | pa.Table, chunk_rows: int = DEFAULT_CHUNK_ROWS
) -> Iterator[pa.RecordBatch]:
    """Chunks of an in-memory table (tests, the API's small batches)."""
    table = frame.to_arrow() if isinstance(frame, pl.DataFrame) else frame
    yield from table.to_batches(max_chunksize=chunk_rows)


def review_local(
    batches: Iterable[pa.RecordBatch],
    policy: Policy,
    as_of: dt.date,
    *,
    sink: Path | str | Callable[[pa.RecordBatch], None] | None = None,
    reason_texts: ReasonTexts | None = None,
) -> pl.DataFrame | int:
    """Run the review over a batch stream.

    ``sink`` None: return all decisions as one DataFrame (small portfolios, tests).
    ``sink`` a path: write a Parquet file batch by batch and return the row count.
    ``sink`` a callable: hand it each decision batch and return the row count.
    """
    decided = decide_batches(batches, policy, as_of, reason_texts=reason_texts)
    schema = decision_arrow_schema()
    if sink is None:
        table = pa.Table.from_batches(list(decided), schema=schema)
        frame = pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)
        return frame
    rows = 0
    if callable(sink):
        for batch in decided:
            sink(batch)
            rows += batch.num_rows
        return rows
    with pq.ParquetWriter(str(sink), schema) as writer:
        for batch in decided:
            writer.write_batch(batch)
            rows += batch.num_rows
    return rows
