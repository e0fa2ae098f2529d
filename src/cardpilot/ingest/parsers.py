"""One parser per kind of field: text or a Parquet value in, (typed value, reason) out.

Each parser is a pair of Polars expressions over a whole column, never a Python loop per row:
the parsed value (null when bad) and the reason (null when good). Numbers are read by one routine
for every layout: ASCII digits ``0-9`` only, with an optional sign (and for amounts, a decimal
point or spreadsheet notation). Any other character (fullwidth ``２``, Arabic-Indic ``٢``, a
thousands separator) makes the value a reject naming its field: a value is never stored as 0
or empty in place of what the file said.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import polars as pl

if TYPE_CHECKING:
    from cardpilot.ingest.fields import FieldSpec

Kind = Literal["id", "text", "int", "money", "date", "timestamp", "bool", "enum"]

REASON_MISSING = "missing required value"

_INT_RE = r"^[+-]?[0-9]{1,18}$"
_MONEY_RE = r"^[+-]?[0-9]{1,18}(\.[0-9]{1,18})?$"
_SCI_RE = r"^[+-]?[0-9]{1,18}(\.[0-9]{1,18})?[eE][+-]?[0-9]{1,3}$"
_MONEY_TOO_PRECISE_RE = r"^[+-]?[0-9]+\.[0-9]{3,}$"
_DATE_RE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
# Control characters: never in an id; in other text only tab (as in an address).
_ID_CONTROL = r"[\x00-\x1f\x7f]"
_TEXT_CONTROL = r"[\x00-\x08\x0a-\x1f\x7f]"

_TEXTUAL = (pl.Utf8, pl.Categorical, pl.Enum, pl.Null)


def column_type_problem(kind: Kind, dtype: pl.DataType) -> str | None:
    """Why a column of ``dtype`` cannot hold a field of ``kind`` (None when it can)."""
    if isinstance(dtype, _TEXTUAL) or dtype == pl.Null:
        return None
    numeric = dtype.is_integer() or dtype.is_float() or isinstance(dtype, pl.Decimal)
    accepted = {
        "id": dtype.is_integer(),
        "text": numeric or dtype == pl.Boolean,
        "enum": False,
        "int": numeric,
        "money": numeric,
        "date": dtype == pl.Date or isinstance(dtype, pl.Datetime),
        "timestamp": isinstance(dtype, pl.Datetime),
        "bool": dtype == pl.Boolean or dtype.is_integer(),
    }[kind]
    if accepted:
        return None
    return f"is of type {dtype}, which cannot hold a {kind} value"


def stripped_text(column: pl.Expr) -> pl.Expr:
    """Text without surrounding white space; empty text as null (a missing value)."""
    stripped = column.str.strip_chars()
    return pl.when(stripped == "").then(None).otherwise(stripped)


def _text(column: str, dtype: pl.DataType) -> pl.Expr:
    """A column as ``stripped_text``. Text columns arrive so already (``validate`` strips each
    once, rather than every check of it again); others are cast to text first."""
    if dtype == pl.Utf8:
        return pl.col(column)
    return stripped_text(pl.col(column).cast(pl.Utf8))


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


def _textual(spec: FieldSpec, dtype: pl.DataType) -> tuple[pl.Expr, pl.Expr]:
    value = _text(spec.name, dtype)
    if spec.upper:
        value = value.str.to_uppercase()
    control = _ID_CONTROL if spec.kind == "id" else _TEXT_CONTROL
    checks: list[tuple[pl.Expr, str]] = [
        (value.str.contains(control), "contains a control character")
    ]
    if spec.max_length is not None:
        checks.append(
            (value.str.len_chars() > spec.max_length, f"longer than {spec.max_length} characters")
        )
    if spec.pattern is not None:
        regex, why = spec.pattern
        checks.append((~value.str.contains(regex), why))
    if spec.kind == "enum" and spec.allowed is not None:
        allowed = sorted(str(a) for a in spec.allowed)
        checks.append((~value.is_in(allowed), f"unknown value (allowed: {', '.join(allowed)})"))
    reason = pl.lit(None, dtype=pl.Utf8)
    for failed, why in reversed(checks):  # the first failing check names the reason
        reason = pl.when(failed).then(pl.lit(why)).otherwise(reason)  # null value: no reason
    return value, reason


def _whole_number(spec: FieldSpec, dtype: pl.DataType) -> tuple[pl.Expr, pl.Expr]:
    """ASCII digits with an optional sign (or a Parquet integer) to an integer."""
    name = spec.name
    if dtype.is_integer():
        value = pl.col(name).cast(pl.Int64, strict=False)
        fmt_bad = pl.col(name).is_not_null() & value.is_null()  # beyond a 64-bit integer
    else:
        text = _text(name, dtype)
        parsed = text.cast(pl.Int64, strict=False)
        # The cast must succeed wherever the pattern matched; if it ever does not, the value
        # is a reject rather than an empty field.
        fmt_bad = text.is_not_null() & (~text.str.contains(_INT_RE) | parsed.is_null())
        value = pl.when(fmt_bad).then(None).otherwise(parsed)
    # The field's own integer type may be narrower (a birth year is an Int16): a value beyond
    # it is a reject, never an error for the whole import.
    narrowed = value.cast(spec.dtype if spec.dtype != pl.Utf8 else pl.Int64, strict=False)
    overflow = value.is_not_null() & narrowed.is_null()
    too_large = pl.when(overflow).then(pl.lit("out of range for this field")).otherwise(None)
    reason = (
        pl.when(fmt_bad)
        .then(pl.lit("not a whole number"))
        .otherwise(pl.coalesce(_range_reason(value, spec), too_large))
    )
    return pl.when(overflow).then(None).otherwise(narrowed), reason


def _money(spec: FieldSpec, dtype: pl.DataType) -> tuple[pl.Expr, pl.Expr]:
    """Exact major units (at most two decimals) to integer minor units, without float."""
    name = spec.name
    if isinstance(dtype, pl.Decimal) and (dtype.scale or 0) <= 2:
        value = (pl.col(name).cast(pl.Decimal(38, 2)) * 100).cast(pl.Int64, strict=False)
        fmt_reason = (
            pl.when(pl.col(name).is_not_null() & value.is_null())
            .then(pl.lit("amount too large"))
            .otherwise(None)
        )
    elif dtype.is_integer():
        wide = pl.col(name).cast(pl.Int64, strict=False)
        big = wide.abs() > (2**63 - 1) // 100
        value = pl.when(big).then(None).otherwise(wide * 100)
        fmt_reason = (
            pl.when(pl.col(name).is_not_null() & (wide.is_null() | big))
            .then(pl.lit("amount too large"))
            .otherwise(None)
        )
    else:
        # Binary floats cannot hold most cents exactly: their shortest text form is read and
        # the two-decimal rule decides, rather than rounding silently.
        value, fmt_reason = money_text(_text(name, dtype))
    reason = (
        pl.when(fmt_reason.is_not_null())
        .then(fmt_reason)
        .otherwise(_range_reason(value, spec, unit="minor"))
    )
    return value, reason


def money_text(text: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """Decimal text (``-1234.5``) or scientific notation (``5.00E+05``, as spreadsheets save
    large numbers) to minor units, exactly: integer arithmetic on the digits, never float."""
    plain = text.str.contains(_MONEY_RE)
    sci = text.str.contains(_SCI_RE)
    negative = text.str.starts_with("-")
    whole = text.str.extract(r"^[+-]?([0-9]+)", 1)
    frac = text.str.extract(r"^[+-]?[0-9]+\.([0-9]+)", 1).fill_null("")
    exponent = text.str.extract(r"[eE]([+-]?[0-9]+)$", 1).cast(pl.Int64, strict=False).fill_null(0)
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


def _date(spec: FieldSpec, dtype: pl.DataType) -> tuple[pl.Expr, pl.Expr]:
    if dtype == pl.Date:
        return pl.col(spec.name), pl.lit(None, dtype=pl.Utf8)
    text = _text(spec.name, dtype)
    parsed = text.str.strptime(pl.Date, "%Y-%m-%d", strict=False)
    bad = text.is_not_null() & (~text.str.contains(_DATE_RE) | parsed.is_null())
    value = pl.when(bad).then(None).otherwise(parsed)
    return value, pl.when(bad).then(pl.lit("not a date (YYYY-MM-DD)")).otherwise(None)


def _timestamp(spec: FieldSpec, dtype: pl.DataType) -> tuple[pl.Expr, pl.Expr]:
    name = spec.name
    if isinstance(dtype, pl.Datetime):
        value = pl.col(name)
        if dtype.time_zone is None:
            # A timestamp without an offset is ambiguous; the layout asks for one.
            reason = (
                pl.when(value.is_not_null())
                .then(pl.lit("timestamp without time zone"))
                .otherwise(None)
            )
            return pl.lit(None, dtype=pl.Datetime("us", "UTC")), reason
        value = value.dt.convert_time_zone("UTC").cast(pl.Datetime("us", "UTC"))
        return value, pl.lit(None, dtype=pl.Utf8)
    text = _text(name, dtype)
    iso = text.str.replace(r"Z$", "+00:00").str.replace(" ", "T")
    parsed = pl.coalesce(
        iso.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%:z", strict=False, time_zone="UTC"),
        iso.str.to_datetime("%Y-%m-%dT%H:%M:%S%:z", strict=False, time_zone="UTC"),
        iso.str.to_datetime("%Y-%m-%dT%H:%M%:z", strict=False, time_zone="UTC"),
    ).cast(pl.Datetime("us", "UTC"))
    # Digits other than ASCII never reach the parser (it would read some of them).
    bad = text.is_not_null() & (parsed.is_null() | text.str.contains(r"[^\x00-\x7f]"))
    value = pl.when(bad).then(None).otherwise(parsed)
    reason = pl.when(bad).then(pl.lit("not an ISO 8601 timestamp with offset")).otherwise(None)
    return value, reason


def _yes_no(spec: FieldSpec, dtype: pl.DataType) -> tuple[pl.Expr, pl.Expr]:
    if dtype == pl.Boolean:
        return pl.col(spec.name), pl.lit(None, dtype=pl.Utf8)
    text = _text(spec.name, dtype)
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
    return value, reason


_PARSERS = {
    "id": _textual,
    "text": _textual,
    "enum": _textual,
    "int": _whole_number,
    "money": _money,
    "date": _date,
    "timestamp": _timestamp,
    "bool": _yes_no,
}


def parse_field(spec: FieldSpec, dtype: pl.DataType) -> tuple[pl.Expr, pl.Expr]:
    """(parsed value, reason) for one column of ``dtype``; both null-safe."""
    value, reason = _PARSERS[spec.kind](spec, dtype)
    if spec.required:
        missing = (
            _text(spec.name, dtype).is_null() if dtype == pl.Utf8 else pl.col(spec.name).is_null()
        )
        reason = pl.when(missing).then(pl.lit(REASON_MISSING)).otherwise(reason)
    return value, reason
