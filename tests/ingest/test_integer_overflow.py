"""A whole number beyond its field's integer type is a reject, never an error for the import."""

from __future__ import annotations

import polars as pl

from cardpilot.ingest.fields import ROW, FieldSpec, validate

SPECS = [FieldSpec("birth_year", "int", dtype=pl.Int16()), FieldSpec("count", "int")]


def test_a_birth_year_beyond_a_16_bit_integer_is_rejected_with_its_row_and_field() -> None:
    raw = pl.DataFrame({ROW: [1, 2, 3], "birth_year": ["1980", "100000", "-40000"], "count": "1"})
    checked = validate(raw, SPECS, file="customers.csv")
    assert checked.good.get_column("birth_year").to_list() == [1980]
    rejects = checked.rejects.select("row", "field", "reason").rows()
    assert rejects == [
        (2, "birth_year", "out of range for this field"),
        (3, "birth_year", "out of range for this field"),
    ]


def test_a_parquet_integer_beyond_64_bits_is_rejected_not_raised() -> None:
    raw = pl.DataFrame(
        {
            ROW: [1, 2],
            "birth_year": pl.Series([1980, 100_000], dtype=pl.Int64),
            "count": pl.Series([1, 2**64 - 1], dtype=pl.UInt64),
        }
    )
    checked = validate(raw, SPECS, file="customers.parquet")
    assert checked.good.height == 1
    assert {r[0] for r in checked.rejects.select("field").rows()} == {"birth_year", "count"}
