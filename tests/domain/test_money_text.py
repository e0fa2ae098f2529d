"""Money as the decimal text of JSON output: ``format_major`` gives exactly the text of the
exact ``to_major`` Decimal, for every amount, negative ones and those under one unit included."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from cardpilot.domain.money import format_major, to_major, to_minor


@given(st.integers(min_value=-(10**20), max_value=10**20))
def test_format_major_is_the_text_of_the_exact_major_amount(minor: int) -> None:
    text = format_major(minor)
    assert text == f"{to_major(minor):.2f}"
    assert to_minor(text) == minor


def test_small_and_negative_amounts_keep_their_sign_and_two_places() -> None:
    assert [format_major(m) for m in (0, 5, -5, -100, 123456)] == [
        "0.00",
        "0.05",
        "-0.05",
        "-1.00",
        "1234.56",
    ]
