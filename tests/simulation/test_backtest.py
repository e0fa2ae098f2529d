"""Back-testing: predicted defaults per grade beside the observed ones with a 95 % Wilson
interval; a grade outside it is named with the distance."""

from __future__ import annotations

import polars as pl
import pytest

from cardpilot.simulation.backtest import (
    backtest_rows,
    chunk_sums,
    in_account_order,
    outcomes_within,
    verdict,
    wilson,
)


def test_wilson_interval_matches_the_textbook_values() -> None:
    # 20 of 100: Wilson 95 % interval 0.1333 - 0.2888.
    low, high = wilson(20, 100)
    assert low == pytest.approx(0.1333, abs=1e-4)
    assert high == pytest.approx(0.2888, abs=1e-4)
    assert wilson(0, 10)[0] == 0.0


def _scored(grade: str, n: int, defaults: int, pd: float) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "grade": [grade] * n,
            "pd": [pd] * n,
            "label": [1] * defaults + [0] * (n - defaults),
            "expected_loss": [round(pd * 1_000)] * n,
            "loss_if_default": [1_000] * n,
        }
    )


def test_a_grade_inside_its_interval_passes_and_one_outside_is_named_with_the_miss() -> None:
    frame = pl.concat(
        [_scored("good", 1_000, 100, 0.1), _scored("poor", 1_000, 500, 0.3)]
    ).with_columns(pl.col("label").cast(pl.Int64))
    sums = pl.concat([chunk_sums(frame[:700]), chunk_sums(frame[700:])])
    rows = backtest_rows(sums, ("good", "poor"))
    by = {r["grade"]: r for r in rows}
    assert by["good"]["defaults_within"]
    assert by["good"]["defaults_miss"] == 0
    assert not by["poor"]["defaults_within"]
    assert by["poor"]["predicted_defaults"] == pytest.approx(300.0)
    low, _high = by["poor"]["defaults_interval"]
    assert by["poor"]["defaults_miss"] == pytest.approx(300.0 - low, abs=0.1)
    assert by["all"]["accounts"] == 2_000
    assert by["all"]["observed_defaults"] == 600
    said = verdict(rows)
    assert said.startswith("poor under-predicts: 300.0 predicted against 500 observed")
    assert "good" not in said


def test_accounts_without_an_outcome_are_left_out() -> None:
    frame = _scored("good", 10, 1, 0.1).with_columns(
        pl.when(pl.int_range(pl.len()) < 4).then(None).otherwise(pl.col("label")).alias("label")
    )
    rows = backtest_rows(chunk_sums(frame), ("good",))
    assert rows[0]["accounts"] == 6


def test_a_chunk_joins_the_same_outcomes_from_the_slice_of_its_account_range() -> None:
    ids = [f"A{i:05d}" for i in range(0, 3_000, 3)]  # every third account has an outcome
    labels = pl.DataFrame({"account_id": ids[::-1], "label": [i % 2 for i in range(len(ids))]})
    ordered = in_account_order(labels)
    chunk = pl.Series("account_id", [f"A{i:05d}" for i in (1_500, 1_201, 1_203, 1_899, 1_302)])
    frame = chunk.to_frame()
    whole = frame.join(labels, on="account_id", how="left", maintain_order="left")
    part = outcomes_within(ordered, chunk)
    assert part.height < ordered.height / 2
    assert frame.join(part, on="account_id", how="left", maintain_order="left").equals(whole)
    assert whole["label"].null_count() == 1  # A01201 has none


def test_a_chunk_of_unknown_accounts_takes_no_outcome() -> None:
    ordered = in_account_order(pl.DataFrame({"account_id": ["B1", "B2"], "label": [0, 1]}))
    assert outcomes_within(ordered, pl.Series([None], dtype=pl.String)).height == 0
    assert outcomes_within(ordered, pl.Series(["A1", "A9"])).height == 0
    assert outcomes_within(ordered, pl.Series(["C1"])).height == 0
