"""One account's points in plain Python (``fastscore.score_one``, the service's) equal the
vectorised ``score_arrays``' on random values: missing ones, values on a split point and
either side of it, values beyond every split."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from cardpilot.scoring.fastscore import score_arrays, score_one
from cardpilot.scoring.registry import load_model_dir

MODEL = load_model_dir(
    Path(__file__).resolve().parents[1] / "fixtures" / "models" / "uci-scorecard"
)
CARD = MODEL.compiled
SPLITS = sorted({float(v) for ch in CARD.characteristics for v in ch.splits})


def _value() -> st.SearchStrategy[float]:
    near = st.sampled_from(SPLITS).flatmap(
        lambda v: st.sampled_from([v, math.nextafter(v, -math.inf), math.nextafter(v, math.inf)])
    )
    wide = st.floats(-1e12, 1e12, allow_nan=False)
    return st.one_of(st.just(math.nan), near, wide, st.just(math.inf), st.just(-math.inf))


@settings(max_examples=300, deadline=None)
@given(
    rows=st.lists(
        st.lists(_value(), min_size=len(CARD.characteristics), max_size=len(CARD.characteristics)),
        min_size=1,
        max_size=20,
    )
)
def test_one_accounts_points_equal_the_vectorised_points(rows: list[list[float]]) -> None:
    columns = [np.array(col, dtype=np.float64) for col in zip(*rows, strict=True)]
    score, _ = score_arrays(CARD, columns, threads=1)
    assert [score_one(CARD, row) for row in rows] == score.tolist()
