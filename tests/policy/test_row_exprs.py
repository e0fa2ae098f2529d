"""``policy.row_exprs`` gives, row by row, what Polars gives a frame for the same expression:
every operation the decision's plan is written in, built once per namespace, on random rows
with nulls, zeros and negative numbers."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from types import ModuleType
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cardpilot.policy import row_exprs

SCHEMA = {
    "i": pl.Int64(),
    "j": pl.Int64(),
    "f": pl.Float64(),
    "g": pl.Float64(),
    "b": pl.Boolean(),
    "c": pl.Boolean(),
    "s": pl.String(),
    "d": pl.Date(),
    "codes": pl.List(pl.String()),
}

Build = Callable[[ModuleType], Any]
EXPRESSIONS: dict[str, Build] = {
    "arithmetic": lambda ns: ns.col("i") * 3 - ns.col("j") + 7,
    "floordiv": lambda ns: ns.col("i") // ns.col("j"),
    "mod": lambda ns: ns.col("i") % ns.col("j"),
    "float floordiv": lambda ns: ns.col("f") // ns.col("g"),
    "float mod": lambda ns: ns.col("f") % ns.col("g"),
    "truediv": lambda ns: ns.col("f") / ns.col("g"),
    "reflected": lambda ns: 100 - ns.col("i") * 2 // 3,
    "compare": lambda ns: ns.col("i") < ns.col("j"),
    "compare string": lambda ns: ns.col("s") == "x",
    "and": lambda ns: ns.col("b") & ns.col("c"),
    "or": lambda ns: ns.col("b") | ns.col("c"),
    "not": lambda ns: ~ns.col("b"),
    "when": lambda ns: (
        ns.when(ns.col("b"))
        .then(ns.lit(1))
        .when(ns.col("c"))
        .then(ns.col("i"))
        .otherwise(ns.lit(3))
    ),
    "when without otherwise": lambda ns: ns.when(ns.col("b")).then(ns.lit("yes")),
    "coalesce": lambda ns: ns.coalesce([ns.col("i"), ns.col("j"), ns.lit(0)]),
    "clip columns": lambda ns: ns.col("i").clip(ns.col("j"), ns.lit(5)),
    "clip": lambda ns: ns.col("f").clip(0.0, 1.0),
    "fill_null": lambda ns: ns.col("b").fill_null(True),
    "is_null": lambda ns: ns.col("i").is_null() | ns.col("f").is_not_null(),
    "is_in": lambda ns: ns.col("s").is_in(ns.lit(["x", "y"])) & ns.col("s").is_not_null(),
    "replace_strict": lambda ns: ns.col("s").replace_strict(
        {"x": 1, "y": 2}, default=None, return_dtype=pl.Int64
    ),
    "replace_strict default": lambda ns: ns.col("s").replace_strict(
        {"x": "X"}, default=ns.col("s"), return_dtype=pl.String
    ),
    "min_horizontal": lambda ns: ns.min_horizontal(ns.col("i"), ns.col("j")),
    "max_horizontal": lambda ns: ns.max_horizontal(ns.col("i"), ns.col("j")),
    "any_horizontal": lambda ns: ns.any_horizontal([ns.col("b"), ns.col("c")]),
    "all_horizontal": lambda ns: ns.all_horizontal([ns.col("b"), ns.col("c")]),
    "floor and cast": lambda ns: (ns.col("f") * 1000).floor().cast(pl.Int64),
    "date parts": lambda ns: (
        ns.col("d").dt.year() * 12
        + ns.col("d").dt.month()
        - (ns.col("d").dt.day() > 15).cast(pl.Int64)
    ),
    "lists": lambda ns: (
        ns.concat_list(
            [ns.col("s"), ns.col("codes").fill_null(ns.lit([], dtype=pl.List(pl.String)))]
        )
        .list.drop_nulls()
        .list.unique(maintain_order=True)
        .list.head(3)
        .list.eval(ns.element().replace_strict({"x": "ex"}, default=ns.element()))
    ),
}

_INT = st.one_of(st.none(), st.integers(-50, 50), st.just(0))
_FLOAT = st.one_of(
    st.none(), st.floats(-5, 5, allow_nan=False), st.sampled_from([0.0, -0.0, 0.5, 1.0])
)
_BOOL = st.one_of(st.none(), st.booleans())
_STR = st.one_of(st.none(), st.sampled_from(["x", "y", "z"]))
rows = st.fixed_dictionaries(
    {
        "i": _INT,
        "j": _INT,
        "f": _FLOAT,
        "g": _FLOAT,
        "b": _BOOL,
        "c": _BOOL,
        "s": _STR,
        "d": st.one_of(st.none(), st.dates(dt.date(2000, 1, 1), dt.date(2030, 12, 31))),
        "codes": st.one_of(st.none(), st.lists(_STR, max_size=4)),
    }
)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and str(a) == str(b))
    return bool(type(a) is type(b) and a == b)


@settings(max_examples=300, deadline=None)
@given(table=st.lists(rows, min_size=1, max_size=8))
def test_every_operation_gives_on_a_row_what_polars_gives_on_the_frame(
    table: list[dict[str, Any]],
) -> None:
    frame = pl.DataFrame(table, schema=SCHEMA)
    for name, build in EXPRESSIONS.items():
        expected = frame.select(build(pl).alias("out"))["out"].to_list()
        got = [build(row_exprs)(row) for row in table]
        differ = [
            (r, e, g) for r, e, g in zip(table, expected, got, strict=True) if not _same(e, g)
        ]
        assert not differ, (name, differ[:2])


@pytest.mark.parametrize(("f", "g"), [(1.0, 0.1), (-1.0, 0.1), (0.3, 0.1), (-5e-324, 3.5)])
def test_float_floor_division_and_remainder_floor_the_rounded_quotient_as_polars_does(
    f: float, g: float
) -> None:
    frame = pl.DataFrame({"f": [f], "g": [g]})
    for name in ("float floordiv", "float mod"):
        build = EXPRESSIONS[name]
        expected = frame.select(build(pl).alias("out"))["out"].to_list()
        assert _same(expected[0], build(row_exprs)({"f": f, "g": g})), name
