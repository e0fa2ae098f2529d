"""The service's figures render (``figures_value``) gives exactly ``json_value``'s answer for
every value: plain values and unit-free objects walked itself, anything else (floats, money in
minor units, rates in basis points, dates, tuples, enums) as ``json_value`` converts it."""

from __future__ import annotations

import datetime as dt
import enum
import warnings
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from cardpilot.domain.figures import json_value
from cardpilot.service.figures_response import FiguresResponse, figures_value


class Colour(enum.IntEnum):
    RED = 1


_KEYS = st.sampled_from(
    ["currency", "limit_minor", "cut_bp", "_minor", "score", "pd", "name", "reasons", "as_of"]
)
_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**12), max_value=10**12)
    | st.text(max_size=5)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.decimals(allow_nan=False, places=4, min_value=-(10**6), max_value=10**6)
    | st.dates()
    | st.just(Colour.RED)
)
_VALUES = st.recursive(
    _LEAVES,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(_KEYS, inner, max_size=5)
    ),
    max_leaves=25,
)


@given(_VALUES, st.booleans())
def test_figures_value_equals_json_value_for_every_value(value: object, known: bool) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # money without a currency: both warn alike
        assert figures_value(value, currency_known=known) == json_value(value, currency_known=known)


def test_a_decision_preview_renders_its_score_and_pd_as_decimal_text() -> None:
    preview = {
        "currency": "CNY",
        "decision": {"new_limit": "1200.00", "score": 612.5, "pd": 0.0125},
        "committed": False,
        "held_by_case": False,
        "as_of": dt.date(2026, 1, 2),
        "limit_minor": 120000,
        "share": Decimal("0.5"),
    }
    body = FiguresResponse(preview).body
    assert b'"score":"612.5"' in body
    assert b'"pd":"0.0125"' in body
    assert b'"as_of":"2026-01-02"' in body
    assert b'"limit":"1200.00"' in body
