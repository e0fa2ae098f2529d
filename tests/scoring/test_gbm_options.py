"""GBM options used by model selection (bench/select_models.py): seed averaging in one model
file, and model-side derived features; on synthetic data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from cardpilot.scoring.gbm import DERIVED, GbmParams, average_boosters, fit_gbm, with_derived
from cardpilot.scoring.reasons import reason_code


def _frame(n: int = 3000, seed: int = 11) -> tuple[pl.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    limit = rng.integers(1, 50, n) * 10_000
    balance = (rng.random(n) * limit).astype(np.int64)
    paid = (rng.random(n) * balance * 0.5).astype(np.int64)
    status = rng.integers(-2, 4, n)
    risk = 0.8 * status + 2 * balance / limit - 3 * paid / np.maximum(balance, 1)
    y = (rng.random(n) < 1 / (1 + np.exp(-(risk - 1)))).astype(np.int8)
    frame = pl.DataFrame(
        {
            "account_id": [str(i) for i in range(n)],
            "credit_limit_minor": limit,
            "balance_latest_minor": balance,
            "paid_latest_minor": paid,
            "paid_avg_6m_minor": paid + rng.integers(0, 1000, n),
            "repayment_status_latest": status.astype(np.int16),
            "repayment_status_previous": rng.integers(-2, 4, n).astype(np.int16),
            "utilisation_latest": balance / limit,
            "age": rng.integers(20, 70, n).astype(np.int32),
        }
    )
    return frame, y


def test_averaged_boosters_give_the_mean_margin_and_shap_in_one_model_file(
    tmp_path: Path,
) -> None:
    import lightgbm as lgb

    frame, y = _frame()
    X = frame.drop("account_id").to_numpy().astype(np.float64)
    boosters = [
        lgb.train(
            {
                "objective": "binary",
                "verbose": -1,
                "num_leaves": 5,
                "seed": s,
                "num_threads": 1,
                "bagging_fraction": 0.7,
                "bagging_freq": 1,
            },
            lgb.Dataset(X, y),
            num_boost_round=15 + s,
        )
        for s in range(3)
    ]
    merged = average_boosters(boosters)
    mean = np.mean([b.predict(X, raw_score=True) for b in boosters], axis=0)
    np.testing.assert_allclose(merged.predict(X, raw_score=True), mean, atol=1e-12)
    contrib = np.mean([b.predict(X, pred_contrib=True) for b in boosters], axis=0)
    np.testing.assert_allclose(merged.predict(X, pred_contrib=True), contrib, atol=1e-12)
    merged.save_model(str(tmp_path / "model.txt"))
    loaded = lgb.Booster(model_file=str(tmp_path / "model.txt"))
    np.testing.assert_allclose(loaded.predict(X, raw_score=True), mean, atol=1e-12)
    assert average_boosters(boosters[:1]) is boosters[0]


def test_derived_features_are_computed_by_the_model_and_explained_by_their_parent() -> None:
    frame, y = _frame()
    derived = ("d_paid_to_balance_latest", "d_status_change_1m")
    params = GbmParams(learning_rate=0.2, folds=2, max_rounds=60, n_seeds=2, derived=derived)
    names = [c for c in frame.columns if c != "account_id"]
    model, summary = fit_gbm(frame, y, names, params)
    assert model.features[-2:] == list(derived)
    assert set(derived) <= set(summary["importance_gain"])
    # a derived feature's SHAP goes to its parent's reason code: codes never repeat
    assert len(model.reason_codes) == len(set(model.reason_codes)) == len(model.features) - 1
    parents = ["payment_ratio_latest", "repayment_status_latest"]
    assert [DERIVED[d][1] for d in derived] == parents
    X = with_derived(frame, derived)
    contrib = model.booster.predict(
        np.column_stack([X.get_column(f).cast(pl.Float64).to_numpy() for f in model.features]),
        pred_contrib=True,
    )
    _, reasons = model.score_arrays(frame)
    status = model.reason_codes.index(reason_code("repayment_status_latest"))
    j, k = model.features.index("repayment_status_latest"), model.features.index(derived[1])
    both = contrib[:, j] + contrib[:, k]
    top = both > np.delete(contrib[:, :-1], [j, k], axis=1).max(axis=1)
    assert (reasons[top & (both > 0), 0] == status).all()
    # the feature table never carries them: the model adds them itself
    scored = model.score(frame)
    assert "d_paid_to_balance_latest" not in frame.columns
    assert scored.height == frame.height
    extended = with_derived(frame, derived)
    owed = frame.get_column("balance_latest_minor").to_numpy()
    ratio = extended.get_column("d_paid_to_balance_latest").to_numpy()
    paid = frame.get_column("paid_latest_minor").to_numpy()
    np.testing.assert_allclose(ratio[owed > 0], paid[owed > 0] / owed[owed > 0])
    assert np.isnan(ratio[owed <= 0]).all() if (owed <= 0).any() else True


def test_unknown_derived_feature_is_refused() -> None:
    frame, y = _frame(n=500)
    with pytest.raises(ValueError, match="unknown derived"):
        fit_gbm(frame, y, ["utilisation_latest"], GbmParams(derived=("d_nope",)))


def test_a_fold_booster_boosted_from_given_margins_returns_them_plus_its_trees() -> None:
    from cardpilot.scoring.gbm import _lgb_params, fold_booster

    frame, y = _frame()
    names = [c for c in frame.columns if c != "account_id"]
    X = frame.select(names).to_numpy().astype(np.float64)
    params = GbmParams(threads=1, max_rounds=40, early_stopping_rounds=5, extra_trees=False)
    lgb_params = {**_lgb_params(params, names), "monotone_constraints": [0] * len(names)}
    fit_rows, val_rows = np.arange(0, 2000), np.arange(2000, 3000)
    start_all = 0.8 * frame.get_column("repayment_status_latest").to_numpy().astype(np.float64)
    start = (start_all[fit_rows], start_all[val_rows])

    booster, margin = fold_booster(lgb_params, params, X, y, fit_rows, val_rows, names, [], start)

    trees = booster.predict(X[val_rows], num_iteration=booster.best_iteration, raw_score=True)
    np.testing.assert_allclose(margin, start[1] + trees)
    plain_booster, plain = fold_booster(lgb_params, params, X, y, fit_rows, val_rows, names, [])
    np.testing.assert_allclose(
        plain,
        plain_booster.predict(
            X[val_rows], num_iteration=plain_booster.best_iteration, raw_score=True
        ),
    )
