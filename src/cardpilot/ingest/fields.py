"""Vectorised field checks: raw text or Parquet values to typed columns and a reason per bad field.

Every check is a Polars expression over a whole chunk, never a Python loop per row, because
imports must keep up with millions of statement rows a minute. Each kind of field has one parser
(:mod:`cardpilot.ingest.parsers`) giving the parsed value (null when bad) and the reason (null
when good); ``validate`` turns the reasons into reject records and keeps the rows that have none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import polars as pl

from cardpilot.ingest.parsers import (
    REASON_MISSING,
    Kind,
    column_type_problem,
    parse_field,
    stripped_text,
)
from cardpilot.ingest.problems import SourceError
from cardpilot.ingest.rejects import REJECT_SCHEMA

__all__ = [
    "NFIELDS",
    "REASON_MISSING",
    "REDACTED",
    "ROW",
    "FieldSpec",
    "Validated",
    "reject_duplicates",
    "reject_rows",
    "validate",
]

ROW = "_row"  # 1-based row number reported to the user (CSV: line number in the file)
NFIELDS = "_nfields"  # fields found on a CSV line; null for Parquet
ERR = "__err__"

# Values of personal fields never reach the rejects file in clear text.
REDACTED = "<redacted>"


@dataclass(frozen=True)
class FieldSpec:
    """How one column is read: its kind, whether it is required, and its allowed values."""

    name: str
    kind: Kind
    required: bool = False
    min_value: int | None = None  # ints and money (money in minor units)
    max_value: int | None = None
    allowed: frozenset[int] | frozenset[str] | None = None  # out-of-range codes are rejected
    max_length: int | None = None
    pattern: tuple[str, str] | None = None  # (regex the text must match, reason when not)
    personal: bool = False
    dtype: pl.DataType = field(default_factory=pl.Utf8)  # output dtype for "int" fields
    upper: bool = False  # text read in upper case (currency codes: ``cny`` is ``CNY``)


@dataclass(frozen=True)
class Validated:
    """The rows of a chunk that passed every check, typed, and a reject record per bad field."""

    good: pl.DataFrame
    rejects: pl.DataFrame


def check_column_types(raw: pl.DataFrame, specs: Sequence[FieldSpec], *, file: str) -> None:
    """``SourceError`` naming the first column whose type cannot hold its field (Parquet)."""
    for spec in specs:
        if spec.name in raw.columns:
            problem = column_type_problem(spec.kind, raw.schema[spec.name])
            if problem:
                raise SourceError(f"{file}: column {spec.name} {problem}")


def _field_count_reason(header: Sequence[str]) -> tuple[pl.Expr, pl.Expr]:
    """(reason, field) for a CSV record with more or fewer fields than its file's header:
    the first field a short record lacks, or the last one of a long record."""
    expected = len(header)
    count = pl.col(NFIELDS)
    reason = (
        pl.when(count < expected)
        .then(pl.format("short row: {} of {} fields", count, pl.lit(expected)))
        .when(count > expected)
        .then(pl.format("too many fields: {} of {}", count, pl.lit(expected)))
        .otherwise(None)
    )
    names = dict(enumerate(header))
    lacking = count.clip(0, expected - 1).cast(pl.Int64).replace_strict(names, return_dtype=pl.Utf8)
    field_name = pl.when(count < expected).then(lacking).otherwise(pl.lit(header[-1]))
    return reason, field_name


def validate(
    raw: pl.DataFrame,
    specs: Sequence[FieldSpec],
    *,
    file: str,
    header: Sequence[str] | None = None,
) -> Validated:
    """Check every field of a chunk at once.

    ``raw`` holds ``_row``, optionally ``_nfields`` (CSV), and one column per spec (text or a
    Parquet type). Columns absent from ``raw`` are treated as empty. ``header``: the CSV file's
    own columns; a record with another number of fields is reported once, on its first missing
    (or on the last) field, instead of once per field. A column whose type cannot hold its
    field is a ``SourceError``.
    """
    check_column_types(raw, specs, file=file)
    raw = raw.with_columns(
        pl.lit(None, dtype=pl.Utf8).alias(s.name) for s in specs if s.name not in raw.columns
    )
    schema = raw.schema
    # Each text column stripped once, here, for every check that reads it (parse_field).
    text = [s.name for s in specs if schema[s.name] == pl.Utf8]
    parsed_from = raw.with_columns(stripped_text(pl.col(n)).alias(n) for n in text)
    values: list[pl.Expr] = []
    reasons: list[pl.Expr] = []
    for spec in specs:
        value, reason = parse_field(spec, schema[spec.name])
        values.append(value.alias(spec.name))
        reasons.append(reason.alias(ERR + spec.name))
    row_reason = pl.lit(None, dtype=pl.Utf8)
    row_field = pl.lit(None, dtype=pl.Utf8)
    if header and NFIELDS in raw.columns:
        row_reason, row_field = _field_count_reason(header)
    checked = parsed_from.select(
        pl.col(ROW),
        *values,
        *reasons,
        row_reason.alias(ERR + ROW),
        row_field.alias("__row_field"),
    )
    err_cols = [ERR + s.name for s in specs]
    any_err = pl.any_horizontal(pl.col(c).is_not_null() for c in [*err_cols, ERR + ROW])
    good = checked.filter(~any_err).select(ROW, *(s.name for s in specs))
    bad = checked.filter(any_err)
    if bad.height == 0:
        return Validated(good, pl.DataFrame(schema=REJECT_SCHEMA))
    return Validated(good, _reject_records(raw, bad, specs, file))


def _reject_records(
    raw: pl.DataFrame, bad: pl.DataFrame, specs: Sequence[FieldSpec], file: str
) -> pl.DataFrame:
    """One record per bad field of each bad row; one per row for a wrong field count."""
    raw_bad = raw.join(bad.select(ROW), on=ROW, how="semi")
    parts: list[pl.DataFrame] = []
    short = bad.filter(pl.col(ERR + ROW).is_not_null())
    if short.height:
        parts.append(
            short.select(
                pl.lit(file).alias("file"),
                pl.col(ROW).alias("row"),
                pl.col("__row_field").alias("field"),
                pl.lit("").alias("value"),
                pl.col(ERR + ROW).alias("reason"),
            )
        )
    field_bad = bad.filter(pl.col(ERR + ROW).is_null())
    for spec in specs:
        hits = field_bad.filter(pl.col(ERR + spec.name).is_not_null()).select(
            ROW, pl.col(ERR + spec.name).alias("reason")
        )
        if hits.height == 0:
            continue
        shown = pl.lit(REDACTED) if spec.personal else pl.col(spec.name).cast(pl.Utf8).fill_null("")
        parts.append(
            hits.join(raw_bad.select(ROW, shown.alias("value")), on=ROW, how="left").select(
                pl.lit(file).alias("file"),
                pl.col(ROW).alias("row"),
                pl.lit(spec.name).alias("field"),
                pl.col("value"),
                pl.col("reason"),
            )
        )
    return pl.concat([p.cast(REJECT_SCHEMA) for p in parts]).sort("row")  # type: ignore[arg-type]


def reject_rows(
    frame: pl.DataFrame, mask: pl.Expr, *, file: str, field: str, reason: pl.Expr | str
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split off rows matching ``mask`` as rejects on ``field``: (kept rows, reject records)."""
    flagged = frame.with_columns(pl.when(mask).then(True).otherwise(False).alias("__hit"))
    hits = flagged.filter(pl.col("__hit"))
    kept = flagged.filter(~pl.col("__hit")).drop("__hit")
    reason_expr = pl.lit(reason) if isinstance(reason, str) else reason
    rejects = hits.select(
        pl.lit(file).alias("file"),
        pl.col(ROW).alias("row"),
        pl.lit(field).alias("field"),
        pl.col(field).cast(pl.Utf8).fill_null("").alias("value"),
        reason_expr.alias("reason"),
    ).cast(REJECT_SCHEMA)  # type: ignore[arg-type]
    return kept, rejects


def reject_duplicates(
    frame: pl.DataFrame, keys: Sequence[str], *, file: str, field: str
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Keep the first row of each key; later rows are rejected, naming the row they repeat."""
    with_first = frame.with_columns(pl.col(ROW).min().over(list(keys)).alias("__first"))
    kept, rejects = reject_rows(
        with_first,
        pl.col(ROW) != pl.col("__first"),
        file=file,
        field=field,
        reason=pl.format(
            "duplicate {} (first at row {})", pl.lit("/".join(keys)), pl.col("__first")
        ),
    )
    return kept.drop("__first"), rejects
