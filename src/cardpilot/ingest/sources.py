"""Reading CSV and Parquet files in bounded chunks, keeping the row numbers users see.

CSV is read as text (every column ``Utf8``) so that checks see exactly what the file says: a
number Polars would silently coerce is instead reported. Each CSV chunk also carries how many
fields its line had, so short and long rows are caught (Polars pads a short line with nulls).
Parquet keeps its own types; a decimal(18,2) amount stays exact.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from cardpilot.ingest.fields import NFIELDS, ROW

CSV_CHUNK_BYTES = 32 * 1024 * 1024
PARQUET_BATCH_ROWS = 200_000

_QUOTED = r'"(?:[^"]|"")*"'


class SourceError(ValueError):
    """A file that cannot be read at all (missing, wrong header, unknown format)."""


@dataclass(frozen=True)
class Chunk:
    """Rows of one file: ``_row``, ``_nfields`` (CSV only) and the file's columns."""

    file: Path
    frame: pl.DataFrame


def csv_header(path: Path) -> list[str]:
    with path.open("rb") as src:
        first = src.readline().decode("utf-8-sig").rstrip("\r\n")
    if not first:
        raise SourceError(f"{path}: empty file; expected a header line")
    return [name.strip().strip('"') for name in first.split(",")]


def _csv_block(header: bytes, block: bytes, first_line: int, ncols: int) -> pl.DataFrame:
    lines = pl.read_csv(
        block,
        has_header=False,
        separator="\x1f",
        quote_char=None,
        infer_schema=False,
        new_columns=["line"],
        empty_string_is_null=False,
        truncate_ragged_lines=True,
    ).with_columns(pl.col("line").str.strip_chars_end("\r"))
    parsed = pl.read_csv(
        header + block,
        infer_schema=False,
        truncate_ragged_lines=True,
        empty_string_is_null=False,
    )
    if parsed.width != ncols:
        parsed = parsed.select(parsed.columns[:ncols])
    if lines.height == parsed.height:
        meta = lines.select(
            (pl.int_range(pl.len(), dtype=pl.Int64) + first_line).alias(ROW),
            (pl.col("line").str.replace_all(_QUOTED, "").str.count_matches(",") + 1)
            .cast(pl.Int32)
            .alias(NFIELDS),
            (pl.col("line").str.strip_chars() == "").alias("__blank"),
        )
        frame = pl.concat([meta, parsed], how="horizontal")
        # Blank lines carry no record; skipping them is what every spreadsheet does too.
        return frame.filter(~pl.col("__blank")).drop("__blank")
    # A quoted field with a line break inside: record and line numbers part ways, so count
    # records instead and leave the short-row check to the required-field checks.
    return parsed.with_columns(
        (pl.int_range(pl.len(), dtype=pl.Int64) + first_line).alias(ROW),
        pl.lit(None, dtype=pl.Int32).alias(NFIELDS),
    )


def iter_csv(path: Path, chunk_bytes: int = CSV_CHUNK_BYTES) -> Iterator[Chunk]:
    """Chunks of about ``chunk_bytes`` of a CSV file, cut at line ends."""
    with path.open("rb") as src:
        header = src.readline()
        if header.startswith(b"\xef\xbb\xbf"):
            header = header[3:]
        ncols = len(csv_header(path))
        line = 2
        rest = b""
        while True:
            data = src.read(chunk_bytes)
            if not data and not rest:
                break
            block = rest + data
            if data:
                cut = block.rfind(b"\n") + 1
                if cut == 0:
                    rest = block
                    continue
                block, rest = block[:cut], block[cut:]
            else:
                rest = b""
            if block.strip():
                yield Chunk(path, _csv_block(header, block, line, ncols))
            line += block.count(b"\n")


def iter_parquet(path: Path, batch_rows: int = PARQUET_BATCH_ROWS) -> Iterator[Chunk]:
    """Batches of a Parquet file, one row group at a time, so memory stays bounded."""
    pfile = pq.ParquetFile(path)
    offset = 1
    pool = pa.default_memory_pool()
    for batch in pfile.iter_batches(batch_size=batch_rows):
        frame = pl.from_arrow(batch)
        assert isinstance(frame, pl.DataFrame)
        yield Chunk(
            path,
            frame.with_columns(
                (pl.int_range(pl.len(), dtype=pl.Int64) + offset).alias(ROW),
            ),
        )
        offset += frame.height
        # Arrow's allocator keeps freed pages for reuse; a long import would hold the high
        # water mark of every row group it decoded.
        pool.release_unused()


def table_files(folder: Path, table: str) -> list[Path]:
    """The files holding ``table`` in a generic-layout folder (empty when absent)."""
    candidates = [folder / f"{table}.csv", folder / f"{table}.parquet"]
    found = [p for p in candidates if p.is_file()]
    parts = folder / table
    if parts.is_dir():
        found.extend(
            sorted(p for p in parts.iterdir() if p.suffix in (".parquet", ".csv") and p.is_file())
        )
    return found


def iter_file(path: Path) -> Iterator[Chunk]:
    if path.suffix == ".csv":
        return iter_csv(path)
    if path.suffix == ".parquet":
        return iter_parquet(path)
    raise SourceError(f"{path}: unknown file type; expected .csv or .parquet")


def file_columns(path: Path) -> list[str]:
    if path.suffix == ".csv":
        return csv_header(path)
    return list(pq.ParquetFile(path).schema_arrow.names)
