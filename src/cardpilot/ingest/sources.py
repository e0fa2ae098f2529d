"""Reading CSV and Parquet files in bounded chunks, keeping the row numbers users see.

CSV is read as text (every column ``Utf8``) so that checks see exactly what the file says: a
number Polars would silently coerce is instead reported. Files come as banks have them: UTF-8
with or without a byte-order mark, or another ASCII-compatible encoding named with
``--encoding`` (GB18030, GBK, Big5; :mod:`cardpilot.ingest.encodings`), with ``\\n`` or ``\\r\\n``
line ends. Each CSV chunk also carries how many fields each record had, so short and long rows
are caught (Polars pads a short line with nulls and drops what a long one has beyond the
header), also after a quoted field with a line break inside. Parquet keeps its own types; a
decimal(18,2) amount stays exact.
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from cardpilot.ingest.encodings import DEFAULT_ENCODING, decode_block, read_header_line
from cardpilot.ingest.fields import NFIELDS, ROW
from cardpilot.ingest.problems import SourceError

__all__ = [
    "Chunk",
    "SourceError",
    "csv_header",
    "file_columns",
    "iter_csv",
    "iter_file",
    "iter_parquet",
    "table_files",
]

CSV_CHUNK_BYTES = 32 * 1024 * 1024
PARQUET_BATCH_ROWS = 200_000

# A quoted field: opened at the start of a field, closed by a quote not doubled.
_QUOTED_FIELD = r'(^|,)"(?:[^"]|"")*"'
_OPEN_QUOTE = r'(^|,)"'


@dataclass(frozen=True)
class Chunk:
    """Rows of one file: ``_row``, ``_nfields`` (CSV only) and the file's columns."""

    file: Path
    frame: pl.DataFrame


def csv_header(path: Path, encoding: str = DEFAULT_ENCODING, *, line_number: int = 1) -> list[str]:
    """The column names of a CSV file's header line (trimmed; unique and non-empty)."""
    line = read_header_line(path, encoding, line_number)
    if not line.strip():
        raise SourceError(f"{path}: empty file; expected a header line")
    names = [name.strip() for name in next(csv.reader([line]))]
    if any(not name for name in names):
        raise SourceError(f"{path}: the header has an empty column name (line 1)")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise SourceError(f"{path}: the header names {', '.join(repeated)} more than once")
    return names


def _fast_block(text: str, first_line: int, names: list[str]) -> pl.DataFrame | None:
    """One record per line (no quoted line break): Polars parses, the lines give field counts.

    None when the block needs the exact reader (a quoted field runs over a line end, or the
    quoting is malformed in a way Polars refuses).
    """
    lines = pl.Series("line", [text]).str.split("\n").explode()
    if text.endswith("\n"):
        lines = lines.head(lines.len() - 1)
    lines = lines.str.strip_chars_end("\r")
    unquoted = lines.str.replace_all(_QUOTED_FIELD, "${1}")
    if unquoted.str.contains(_OPEN_QUOTE).any():
        return None
    try:
        parsed = pl.read_csv(
            text.encode("utf-8"),
            has_header=False,
            schema=dict.fromkeys(names, pl.Utf8()),
            truncate_ragged_lines=True,
            missing_columns="insert",
            empty_string_is_null=False,
            quote_char='"',
        )
    except pl.exceptions.PolarsError:
        return None
    if parsed.height != lines.len():
        return None
    meta = pl.DataFrame(
        {
            ROW: pl.int_range(lines.len(), dtype=pl.Int64, eager=True) + first_line,
            NFIELDS: (unquoted.str.count_matches(",") + 1).cast(pl.Int32),
            "__blank": lines.str.strip_chars() == "",
        }
    )
    frame = pl.concat([meta, parsed], how="horizontal")
    # Blank lines carry no record; skipping them is what every spreadsheet does too.
    return frame.filter(~pl.col("__blank")).drop("__blank")


def _exact_block(text: str, first_line: int, names: list[str]) -> pl.DataFrame:
    """Records by Python's CSV reader: quoted line breaks, and each record's first line."""
    width = len(names)
    rows: list[int] = []
    counts: list[int] = []
    columns: list[list[str]] = [[] for _ in names]
    limit = csv.field_size_limit()
    csv.field_size_limit(sys.maxsize)
    try:
        reader = csv.reader(io.StringIO(text, newline=""))
        line = 0
        for record in reader:
            start, line = line, reader.line_num
            if not record or (len(record) == 1 and not record[0].strip()):
                continue
            rows.append(first_line + start)
            counts.append(len(record))
            padded = record[:width] + [""] * (width - len(record))
            for values, value in zip(columns, padded, strict=True):
                values.append(value)
    except csv.Error as exc:
        raise SourceError(f"CSV not readable near line {first_line + line}: {exc}") from None
    finally:
        csv.field_size_limit(limit)
    return pl.DataFrame(
        {
            ROW: pl.Series(rows, dtype=pl.Int64),
            NFIELDS: pl.Series(counts, dtype=pl.Int32),
            **{
                name: pl.Series(values, dtype=pl.Utf8)
                for name, values in zip(names, columns, strict=True)
            },
        }
    )


def _records_end(block: bytes) -> int:
    """Where the last whole record of ``block`` ends: after a line end outside quotes, as
    quote parity tells (RFC 4180); else after its last line end (0 when it has none)."""
    last = block.rfind(b"\n") + 1
    cut, quotes = last, block.count(b'"', 0, last)
    while cut and quotes % 2:
        previous = block.rfind(b"\n", 0, cut - 1) + 1
        quotes -= block.count(b'"', previous, cut)
        cut = previous
    return cut or last


def iter_csv(
    path: Path,
    chunk_bytes: int = CSV_CHUNK_BYTES,
    *,
    encoding: str = DEFAULT_ENCODING,
    header_line: int = 1,
) -> Iterator[Chunk]:
    """Chunks of about ``chunk_bytes`` of a CSV file, cut between records; the header is line
    ``header_line`` (lines above it are skipped) and records start below it."""
    names = csv_header(path, encoding, line_number=header_line)
    with path.open("rb") as src:
        for _ in range(header_line):
            src.readline()
        line = header_line + 1
        rest = b""
        while True:
            data = src.read(chunk_bytes)
            block = rest + data
            if not block:
                break
            if data:
                cut = _records_end(block)
                if cut == 0:
                    rest = block
                    continue
                block, rest = block[:cut], block[cut:]
            else:
                rest = b""
            if block.strip():
                text = decode_block(path, block, encoding, line)
                frame = _fast_block(text, line, names)
                if frame is None:
                    try:
                        frame = _exact_block(text, line, names)
                    except SourceError as exc:
                        raise SourceError(f"{path}: {exc}") from None
                yield Chunk(path, frame)
            line += block.count(b"\n")


# What a damaged or foreign Parquet file can make pyarrow or Polars raise; Polars reports some
# (metadata that is not UTF-8) as a panic, which is not an Exception.
_UNREADABLE = (
    pa.ArrowException,
    OSError,
    ValueError,
    TypeError,
    pl.exceptions.PolarsError,
    pl.exceptions.PanicException,
)


def _plain_schema(schema: pa.Schema) -> pa.Schema:
    """``schema`` without the file's own key-value metadata, which no check reads."""
    return pa.schema([field.remove_metadata() for field in schema])


def _frame(batch: pa.RecordBatch) -> pl.DataFrame:
    plain = pa.RecordBatch.from_arrays(batch.columns, schema=_plain_schema(batch.schema))
    frame = pl.from_arrow(plain)
    assert isinstance(frame, pl.DataFrame)
    return frame


def _parquet_file(path: Path) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(path)
    except _UNREADABLE as exc:
        raise SourceError(f"{path}: not a readable Parquet file ({_first_line(exc)})") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def iter_parquet(path: Path, batch_rows: int = PARQUET_BATCH_ROWS) -> Iterator[Chunk]:
    """Batches of a Parquet file, one row group at a time, so memory stays bounded."""
    pfile = _parquet_file(path)
    offset = 1
    pool = pa.default_memory_pool()
    batches = pfile.iter_batches(batch_size=batch_rows)
    while True:
        try:
            batch = next(batches, None)
            if batch is None:
                return
            frame = _frame(batch)
        except _UNREADABLE as exc:
            raise SourceError(
                f"{path}: Parquet rows from {offset} not readable ({_first_line(exc)})"
            ) from None
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


def iter_file(path: Path, *, encoding: str = DEFAULT_ENCODING) -> Iterator[Chunk]:
    if path.suffix == ".csv":
        return iter_csv(path, encoding=encoding)
    if path.suffix == ".parquet":
        return iter_parquet(path)
    raise SourceError(f"{path}: unknown file type; expected .csv or .parquet")


def file_columns(path: Path, *, encoding: str = DEFAULT_ENCODING) -> list[str]:
    if path.suffix == ".csv":
        return csv_header(path, encoding)
    return list(_parquet_file(path).schema_arrow.names)


def parquet_schema(path: Path) -> dict[str, pl.DataType]:
    """The Polars types a Parquet file's columns read as (``SourceError`` when unreadable)."""
    try:
        return dict(pl.read_parquet_schema(path))
    except _UNREADABLE as exc:
        raise SourceError(f"{path}: column types not readable ({_first_line(exc)})") from None
