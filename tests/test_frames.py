"""``with_per_distinct`` gives exactly the frame ``with_columns`` gives."""

from __future__ import annotations

import polars as pl
import pytest

from cardpilot.frames import with_per_distinct


def _frame(rows: int, distinct: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "id": list(range(rows)),
            "code": [None if i % distinct == 0 else f"C{i % distinct}" for i in range(rows)],
            "codes": [
                None if i % 5 == 1 else [f"R{i % distinct}", "R"][: i % 3] for i in range(rows)
            ],
        }
    )


@pytest.mark.parametrize(("rows", "distinct"), [(0, 1), (1, 1), (1_000, 7), (1_000, 997)])
def test_per_distinct_equals_with_columns(rows, distinct):
    frame = _frame(rows, distinct)
    exprs = [
        pl.concat_list(pl.col("code"), pl.col("codes").fill_null([]))
        .list.drop_nulls()
        .alias("codes"),
        (pl.col("code").fill_null("-") + "!").alias("shout"),
    ]
    expected = frame.with_columns(exprs)
    got = with_per_distinct(frame, ["code", "codes"], exprs)
    assert got.columns == expected.columns
    assert got.equals(expected)
