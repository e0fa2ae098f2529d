"""Vectorised field checks: raw text or Parquet values to typed columns and a reason per bad field.

Every check is a Polars expression over a whole chunk, never a Python loop per row, because
imports must keep up with millions of statement rows a minute. A check returns two expressions:
the parsed value (null when bad) and the reason (null when good); ``validate`` turns the reasons
into reject records and keeps the rows that have none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import polars as pl

from cardpilot.ingest.rejects import REJECT_SCHEMA

Kind = Literal["id", "text", "int", "money", "date", "timestamp", "bool", "enum"]

ROW = "_row"  # 1-based row number reported to the user (CSV: line number in the file)
NFIELDS = "_nfields"  # fields found on a CSV line; null for Parquet
ERR = "__err__"

REASON_MISSING = "missing required value"
# Values of personal fields never reach the rejects file in clear text.
REDACTED = "<redacted>"

_INT_RE = r"^[+-]?\d{1,18}$"
_MONEY_RE = r"^[+-]?\d{1,18}(\.\d{1,18})?$"
_SCI_RE = r"^[+-]?\d{1,18}(\.\d{1,18})?[eE][+-]?\d{1,3}$"
_MONEY_TOO_PRECISE_RE = r"^[+-]?\d+\.\d{3,}$"
_DATE_RE = r"^\d{4}-\d{2}-\d{2}$"


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


@dataclass(frozen=True)
class Validated:
    """The rows of a chunk that passed every check, typed, and a reject record per bad field."""

    good: pl.DataFrame
    rejects: pl.DataFrame


def _text(column: str, dtype: pl.DataType) -> pl.Expr:
    expr = pl.col(column)
    if dtype != pl.Utf8:
        expr = expr.cast(pl.Utf8)
    stripped = expr.str.strip_chars()
    return pl.when(stripped == "").then(None).otherwise(stripped)


def _range_reason(value: pl.Expr, spec: FieldSpec, unit: str = "") -> pl.Expr:
    """Reason for a parsed number outside [min, max] (null when inside)."""
    reason = pl.lit(None, dtype=pl.Utf8)
    if spec.allowed is not None:
        allowed = sorted(spec.allowed)
        reason = (
            pl.when(value.is_not_null() & ~value.is_in(allowed))
            .then(pl.lit(f"code out of range (allowed: {', '.join(map(str, allowed))})"))
            .otherwise(reason)
        )
    if spec.max_value is not None:
        reason = (
            pl.when(value > spec.max_value)
            .then(pl.lit(f"greater than {_show(spec.max_value, unit)}"))
            .otherwise(reason)
        )
    if spec.min_value is not None:
        text = "negative" if spec.min_value == 0 else f"less than {_show(spec.min_value, unit)}"
        reason = pl.when(value < spec.min_value).then(pl.lit(text)).otherwise(reason)
    return reason


def _show(value: int, unit: str) -> str:
    if unit == "minor":
        return f"{value / 100:.2f}"
    return str(value)


def _parse(spec: FieldSpec, dtype: pl.DataType) -> tuple[pl.Expr, pl.Expr]:
    """(parsed value, reason) for one column; both null-safe."""
    name = spec.name
    text = _text(name, dtype)
    missing = text.is_null() if dtype == pl.Utf8 else pl.col(name).is_null()
    if spec.kind in ("id", "text", "enum"):
        value = text
        reason = pl.lit(None, dtype=pl.Utf8)
        if spec.max_length is not None:
            reason = (
                pl.when(value.str.len_chars() > spec.max_length)
                .then(pl.lit(f"longer than {spec.max_length} characters"))
                .otherwise(reason)
            )
        if spec.pattern is not None:
            regex, why = spec.pattern
            reason = (
                pl.when(value.is_not_null() & ~value.str.contains(regex))
                .then(pl.lit(why))
                .otherwise(reason)
            )
        if spec.kind == "enum" and spec.allowed is not None:
            allowed = sorted(str(a) for a in spec.allowed)
            reason = (
                pl.when(value.is_not_null() & ~value.is_in(allowed))
                .then(pl.lit(f"unknown value (allowed: {', '.join(allowed)})"))
                .otherwise(reason)
            )
    elif spec.kind == "int":
        if dtype.is_integer():
            value = pl.col(name).cast(pl.Int64)
            fmt_bad = pl.lit(False)
        else:
            fmt_bad = text.is_not_null() & ~text.str.contains(_INT_RE)
            value = pl.when(fmt_bad).then(None).otherwise(text.cast(pl.Int64, strict=False))
        reason = (
            pl.when(fmt_bad)
            .then(pl.lit("not a whole number"))
            .otherwise(_range_reason(value, spec))
        )
        value = value.cast(spec.dtype if spec.dtype != pl.Utf8 else pl.Int64)
    elif spec.kind == "money":
        value, reason = _money(name, dtype, text, spec)
    elif spec.kind == "date":
        if dtype == pl.Date:
            value = pl.col(name)
            reason = pl.lit(None, dtype=pl.Utf8)
        else:
            parsed = text.str.strptime(pl.Date, "%Y-%m-%d", strict=False)
            bad = text.is_not_null() & (~text.str.contains(_DATE_RE) | parsed.is_null())
            value = pl.when(bad).then(None).otherwise(parsed)
            reason = pl.when(bad).then(pl.lit("not a date (YYYY-MM-DD)")).otherwise(None)
    elif spec.kind == "timestamp":
        if isinstance(dtype, pl.Datetime):
            value = pl.col(name)
            if dtype.time_zone is None:
                # A timestamp without an offset is ambiguous; the layout asks for one.
                reason = (
                    pl.when(value.is_not_null())
                    .then(pl.lit("timestamp without time zone"))
                    .otherwise(None)
                )
                value = pl.lit(None, dtype=pl.Datetime("us", "UTC"))
            else:
                value = value.dt.convert_time_zone("UTC").cast(pl.Datetime("us", "UTC"))
                reason = pl.lit(None, dtype=pl.Utf8)
        else:
            iso = text.str.replace(r"Z$", "+00:00").str.replace(" ", "T")
            parsed = pl.coalesce(
                iso.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%:z", strict=False, time_zone="UTC"),
                iso.str.to_datetime("%Y-%m-%dT%H:%M:%S%:z", strict=False, time_zone="UTC"),
                iso.str.to_datetime("%Y-%m-%dT%H:%M%:z", strict=False, time_zone="UTC"),
            ).cast(pl.Datetime("us", "UTC"))
            bad = text.is_not_null() & parsed.is_null()
            value = parsed
            reason = (
                pl.when(bad).then(pl.lit("not an ISO 8601 timestamp with offset")).otherwise(None)
            )
    elif spec.kind == "bool":
        if dtype == pl.Boolean:
            value = pl.col(name)
            reason = pl.lit(None, dtype=pl.Utf8)
        else:
            low = text.str.to_lowercase()
            value = (
                pl.when(low.is_in(["1", "true", "yes"]))
                .then(True)
                .when(low.is_in(["0", "false", "no"]))
                .then(False)
                .otherwise(None)
            )
            reason = (
                pl.when(text.is_not_null() & value.is_null())
                .then(pl.lit("not a yes/no value (0/1, true/false)"))
                .otherwise(None)
            )
    else:  # pragma: no cover - Kind is closed
        raise ValueError(spec.kind)

    if spec.required:
        reason = pl.when(missing).then(pl.lit(REASON_MISSING)).otherwise(reason)
    return value, reason


def _money(
    name: str, dtype: pl.DataType, text: pl.Expr, spec: FieldSpec
) -> tuple[pl.Expr, pl.Expr]:
    """Exact major units (at most two decimals) to integer minor units, without float."""
    if isinstance(dtype, pl.Decimal) and (dtype.scale or 0) <= 2:
        value = (pl.col(name).cast(pl.Decimal(38, 2)) * 100).cast(pl.Int64)
        fmt_reason = pl.lit(None, dtype=pl.Utf8)
    elif dtype.is_integer():
        value = pl.col(name).cast(pl.Int64) * 100
        fmt_reason = pl.lit(None, dtype=pl.Utf8)
    else:
        if dtype.is_float():
            # Binary floats cannot hold most cents exactly; read their shortest text form and
            # let the two-decimal rule decide, rather than rounding silently.
            text = pl.col(name).cast(pl.Utf8)
        value, fmt_reason = _money_text(text)
    reason = (
        pl.when(fmt_reason.is_not_null())
        .then(fmt_reason)
        .otherwise(_range_reason(value, spec, unit="minor"))
    )
    return value, reason


def _money_text(text: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """Decimal text (``-1234.5``) or scientific notation (``5.00E+05``, as spreadsheets save
    large numbers) to minor units, exactly: integer arithmetic on the digits, never float."""
    plain = text.str.contains(_MONEY_RE)
    sci = text.str.contains(_SCI_RE)
    negative = text.str.starts_with("-")
    whole = text.str.extract(r"^[+-]?(\d+)", 1)
    frac = text.str.extract(r"^[+-]?\d+\.(\d+)", 1).fill_null("")
    exponent = text.str.extract(r"[eE]([+-]?\d+)$", 1).cast(pl.Int64, strict=False).fill_null(0)
    digits = pl.concat_str(whole, frac).str.strip_chars_start("0")
    mantissa = digits.cast(pl.Int64, strict=False).fill_null(0)
    # value = mantissa × 10^(exponent − len(frac)); in minor units two more powers of ten
    shift = exponent - frac.str.len_chars().cast(pl.Int64) + 2
    scale_up = pl.lit(10, dtype=pl.Int64).pow(shift.clip(0, 18))
    scale_down = pl.lit(10, dtype=pl.Int64).pow((-shift).clip(0, 18))
    too_big = (digits.str.len_chars().cast(pl.Int64) + shift.clip(lower_bound=0)) > 18
    too_precise = (shift < -18) & (mantissa != 0) | (mantissa % scale_down != 0)
    ok = (plain | sci) & ~too_big & ~too_precise
    magnitude = pl.when(shift >= 0).then(mantissa * scale_up).otherwise(mantissa // scale_down)
    value = (
        pl.when(ok).then(pl.when(negative).then(-magnitude).otherwise(magnitude)).otherwise(None)
    )
    reason = (
        pl.when(text.is_null() | ok)
        .then(None)
        .when((plain | sci) & too_big)
        .then(pl.lit("amount too large"))
        .when(((plain | sci) & too_precise) | text.str.contains(_MONEY_TOO_PRECISE_RE))
        .then(pl.lit("more than 2 decimal places"))
        .otherwise(pl.lit("not an amount"))
    )
    return value, reason


def validate(
    raw: pl.DataFrame,
    specs: Sequence[FieldSpec],
    *,
    file: str,
    expected_fields: int | None = None,
) -> Validated:
    """Check every field of a chunk at once.

    ``raw`` holds ``_row``, optionally ``_nfields`` (CSV), and one column per spec (text or a
    Parquet type). Columns absent from ``raw`` are treated as empty. A short or long CSV line
    is reported once, on its first missing (or on the last) field, instead of once per field.
    """
    raw = raw.with_columns(
        pl.lit(None, dtype=pl.Utf8).alias(s.name) for s in specs if s.name not in raw.columns
    )
    schema = raw.schema
    values: list[pl.Expr] = []
    reasons: list[pl.Expr] = []
    for spec in specs:
        value, reason = _parse(spec, schema[spec.name])
        values.append(value.alias(spec.name))
        reasons.append(reason.alias(ERR + spec.name))

    row_reason = pl.lit(None, dtype=pl.Utf8)
    row_field = pl.lit(None, dtype=pl.Utf8)
    if expected_fields is not None and NFIELDS in raw.columns:
        names = [s.name for s in specs]
        nf = pl.col(NFIELDS)
        row_reason = (
            pl.when(nf < expected_fields)
            .then(pl.format("short row: {} of {} fields", nf, pl.lit(expected_fields)))
            .when(nf > expected_fields)
            .then(pl.format("too many fields: {} of {}", nf, pl.lit(expected_fields)))
            .otherwise(None)
        )
        # the first field the short line lacks (or the last one, for a long line)
        row_field = (
            pl.when(nf < expected_fields)
            .then(
                pl.lit(pl.Series([*names, names[-1]])).get(
                    nf.clip(0, expected_fields).cast(pl.Int64)
                )
            )
            .otherwise(pl.lit(names[-1]))
        )

    checked = raw.select(
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
    rejects = pl.concat([p.cast(REJECT_SCHEMA) for p in parts]).sort("row")  # type: ignore[arg-type]
    return Validated(good, rejects)


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
