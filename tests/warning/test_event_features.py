"""What the events since the latest statement add to the early-warning features: the
utilisation jump measured to the utilisation now, a spending spike this month when it is the
larger, and nothing at all without an event input."""

from __future__ import annotations

import polars as pl
from polars.testing import assert_frame_equal

from cardpilot.warning.features import RATIO_CAP, with_event_features

ROWS = pl.DataFrame(
    {
        "account_id": ["a", "b", "c"],
        "utilisation_latest": [0.40, 0.40, None],
        "utilisation_jump_3m": [0.10, 0.10, 0.05],
        "spend_spike": [1.5, 1.5, None],
        "payment_drop": [1.0, 1.0, 1.0],
    }
)


def _with(utilisation: list[float | None], spend: list[float | None]) -> pl.DataFrame:
    inputs = pl.DataFrame(
        {"utilisation": utilisation, "spend_to_6m_average": spend},
        schema={"utilisation": pl.Float64(), "spend_to_6m_average": pl.Float64()},
    )
    return with_event_features(pl.concat([ROWS, inputs], how="horizontal"))


def test_without_event_inputs_the_statement_features_stand_bit_for_bit() -> None:
    out = _with([None, None, None], [None, None, None])
    assert_frame_equal(out.select(ROWS.columns), ROWS)


def test_the_utilisation_jump_is_measured_to_the_utilisation_now() -> None:
    out = _with([0.70, 0.40, 0.90], [None, None, None])
    jumps = out.get_column("utilisation_jump_3m").to_list()
    assert abs(jumps[0] - 0.40) < 1e-12  # 0.10 + (0.70 - 0.40)
    assert jumps[1] == 0.10  # no change since the statement
    assert jumps[2] == 0.05  # no statement utilisation to measure from: as it was


def test_a_spending_spike_this_month_counts_when_larger_and_is_capped() -> None:
    out = _with([None, None, None], [3.0, 0.5, 40.0])
    assert out.get_column("spend_spike").to_list() == [3.0, 1.5, RATIO_CAP]


def test_other_features_are_left_as_they_are() -> None:
    out = _with([0.9, 0.1, None], [9.0, 9.0, 9.0])
    assert out.get_column("payment_drop").to_list() == [1.0, 1.0, 1.0]
