"""What the events since the latest statement add to the early-warning features: the
utilisation jump measured to the utilisation now, a spending spike this month when it is the
larger, and nothing at all without an event input."""

from __future__ import annotations

from pathlib import Path

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


def test_values_in_one_cell_of_a_gbms_thresholds_score_the_same(
    event_warning_model: Path,
) -> None:
    from cardpilot.scoring.registry import load_model_dir
    from cardpilot.warning.features import EVENT_FEATURES
    from cardpilot.warning.scores import cell_of, score_cuts, warning_pd

    model = load_model_dir(event_warning_model)
    cuts = score_cuts(model, EVENT_FEATURES)
    assert cuts is not None
    jump = cuts["utilisation_jump_3m"]
    assert len(jump) > 2
    low, high = jump[0], jump[1]
    inside = [low + (high - low) * f for f in (0.01, 0.5, 1.0)]  # (low, high]: one cell
    rows = pl.DataFrame(
        {
            "account_id": ["a", "b", "c", "d", "e"],
            "utilisation_latest": [0.5] * 5,
            "utilisation_jump_3m": [*inside, low, None],
            "spend_spike": [1.0] * 5,
            "payment_drop": [1.0] * 5,
            "balance_trend_3m": [1.0] * 5,
        }
    )
    cells = cell_of(rows.get_column("utilisation_jump_3m"), jump).to_list()
    assert cells[0] == cells[1] == cells[2] != cells[3]
    assert cells[4] == -1
    pds = warning_pd(model, rows).to_list()
    assert pds[0] == pds[1] == pds[2]


def test_a_scorecards_cells_end_just_below_each_split() -> None:
    import numpy as np

    from cardpilot.scoring.scorecard import fit_scorecard
    from cardpilot.warning.scores import cell_of, score_cuts, warning_pd

    rng = np.random.default_rng(5)
    n = 2_000
    jump = rng.uniform(-0.5, 1.0, n)
    frame = pl.DataFrame(
        {
            "account_id": [f"s{i}" for i in range(n)],
            "utilisation_jump_3m": jump,
            "utilisation_latest": rng.uniform(0, 1, n),
        }
    )
    y = (jump + rng.normal(0, 0.3, n) > 0.6).astype(np.int8)
    model, _ = fit_scorecard(frame, y, ["utilisation_jump_3m", "utilisation_latest"])
    cuts = score_cuts(model, ("utilisation_jump_3m", "spend_spike"))
    assert cuts is not None
    assert len(cuts["spend_spike"]) == 0  # not read: every value one cell
    split = float(np.nextafter(cuts["utilisation_jump_3m"][0], np.inf))  # the first split
    below = float(np.nextafter(split, -np.inf))
    values = pl.Series("utilisation_jump_3m", [below - 0.01, below, split])
    cells = cell_of(values, cuts["utilisation_jump_3m"]).to_list()
    assert cells[0] == cells[1] != cells[2]
    rows = pl.DataFrame(
        {"account_id": ["a", "b", "c"], "utilisation_jump_3m": values, "utilisation_latest": 0.5}
    )
    pds = warning_pd(model, rows).to_list()
    assert pds[0] == pds[1]
