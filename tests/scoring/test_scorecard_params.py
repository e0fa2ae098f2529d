"""Scorecard options used by model selection (bench/select_models.py), on synthetic data."""

from __future__ import annotations

import numpy as np
import polars as pl

from cardpilot.scoring.scorecard import ScorecardParams, _trend, fit_scorecard


def test_free_trend_applies_only_where_the_domain_sets_no_direction() -> None:
    assert _trend("months_overdue_latest", "auto") == "ascending"
    assert _trend("payment_ratio_latest", "auto") == "descending"
    assert _trend("utilisation_latest", "auto") == "auto"
    assert _trend("utilisation_latest", "none") is None
    assert _trend("utilisation_latest") == "auto_asc_desc"


def _risky(n: int, seed: int, copy: bool) -> tuple[pl.DataFrame, np.ndarray]:
    """One informative characteristic (optionally a near copy of it) and an uninformative age."""
    rng = np.random.default_rng(seed)
    risk = rng.normal(size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(risk - 1)))).astype(np.int8)
    columns = {"account_id": [str(i) for i in range(n)], "utilisation_latest": risk}
    if copy:
        columns["utilisation_avg_6m"] = risk + rng.normal(scale=0.05, size=n)
    columns["age"] = rng.integers(20, 70, n)
    return pl.DataFrame(columns), y


def test_correlation_filter_keeps_the_more_informative_of_two_copies() -> None:
    frame, y = _risky(4000, 3, copy=True)
    names = ["utilisation_latest", "utilisation_avg_6m", "age"]
    _, summary = fit_scorecard(frame, y, names, ScorecardParams(max_corr=0.8, min_iv=0.0))
    assert len(summary["dropped_for_correlation"]) == 1
    assert summary["dropped_for_correlation"][0] in names[:2]
    _, plain = fit_scorecard(frame, y, names, ScorecardParams(min_iv=0.0))
    assert plain["dropped_for_correlation"] == []


def test_trend_overrides_apply_only_to_characteristics_without_a_domain_direction() -> None:
    overrides = (("utilisation_latest", "valley"), ("months_overdue_latest", "peak"))
    assert _trend("utilisation_latest", "auto_asc_desc", overrides) == "valley"
    assert _trend("months_overdue_latest", "auto_asc_desc", overrides) == "ascending"
    assert _trend("age", "auto_asc_desc", overrides) == "auto_asc_desc"
    assert _trend("utilisation_latest", "auto", (("utilisation_latest", "none"),)) is None


def test_l1_penalty_leaves_out_a_characteristic_without_signal() -> None:
    frame, y = _risky(6000, 5, copy=False)
    names = ["utilisation_latest", "age"]
    strong = ScorecardParams(min_iv=0.0, penalty="l1", C=0.005)
    model, summary = fit_scorecard(frame, y, names, strong)
    assert model.characteristics == ["utilisation_latest"]
    assert summary["dropped_for_sign"] == ["age"]
    assert summary["coefficients"]["utilisation_latest"] > 0
    assert ScorecardParams(penalty="l1").to_dict()["penalty"] == "l1"


def test_conditional_characteristics_score_from_their_inputs_in_python_and_sql() -> None:
    import duckdb

    from cardpilot.scoring.reasons import reason_code
    from cardpilot.store.scorecard_sql import scorecard_sql

    rng = np.random.default_rng(11)
    n = 6000
    status = rng.choice([-2, -1, 0, 1, 2], n).astype(np.int16)
    util = rng.random(n)
    # utilisation lowers risk for a clear account and raises it for a revolving one
    logit = np.where(status <= -1, -2.0 * util, 2.0 * util) + 0.8 * status - 1.0
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int8)
    frame = pl.DataFrame(
        {
            "account_id": [str(i) for i in range(n)],
            "repayment_status_latest": status,
            "utilisation_latest": util,
            "_gone": rng.random(n) < 0.05,
        }
    ).with_columns(utilisation_latest=pl.when(~pl.col("_gone")).then(pl.col("utilisation_latest")))
    params = ScorecardParams(
        min_iv=0.0, derived=("utilisation_latest_if_clear", "utilisation_latest_if_revolving")
    )
    model, summary = fit_scorecard(
        frame, y, ["repayment_status_latest", "utilisation_latest"], params
    )
    assert set(params.derived) <= set(model.characteristics)
    assert set(model.inputs) == {"repayment_status_latest", "utilisation_latest"}
    assert summary["coefficients"]["utilisation_latest_if_clear"] > 0
    frame = frame.drop("_gone")
    score, _ = model.score_arrays(frame.select("account_id", *model.inputs), threads=1)
    con = duckdb.connect()
    con.register("f", frame.to_arrow())
    sql = con.execute(f"SELECT {scorecard_sql(model)} AS s FROM f").fetchnumpy()["s"]
    assert np.array_equal(sql.astype(np.int64), score.astype(np.int64))
    assert np.array_equal(model.points_matrix(frame).sum(axis=1), score)
    assert [reason_code(c) for c in model.characteristics] == model.reason_codes
    assert params.to_dict()["derived"] == list(params.derived)
