"""The notebook API: the docs' example, both layouts, both frame libraries, scikit-learn."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest
from sklearn.base import clone

import cardpilot as cp

ROOT = Path(__file__).resolve().parents[2]
UCI = ROOT.parent / "shared" / "data" / "uci_credit_card_default.csv"
MODEL = ROOT / "tests" / "fixtures" / "models" / "uci-scorecard"
needs_uci = pytest.mark.skipif(not UCI.exists(), reason="real UCI data not present")


@pytest.fixture(scope="module")
def uci_rows() -> pd.DataFrame:
    frame = pd.read_csv(UCI, nrows=3000)
    # Shuffled and re-indexed, so keeping order and index is something the API must do.
    return frame.sample(frac=1.0, random_state=7).set_index(pd.Index(range(5000, 8000)))


def _docs_example() -> str:
    text = (ROOT / "docs" / "notebook.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    return blocks[0]


@needs_uci
@pytest.mark.parametrize("library", ["pandas", "polars"])
def test_the_docs_example_scores_rows_in_input_order(
    uci_rows: pd.DataFrame, library: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "uci-scorecard").symlink_to(MODEL)
    monkeypatch.chdir(tmp_path)
    df = uci_rows if library == "pandas" else pl.from_pandas(uci_rows)
    scope: dict[str, object] = {"df": df}
    exec(_docs_example(), scope)
    scored = scope["scored"]
    if library == "pandas":
        assert isinstance(scored, pd.DataFrame)
        assert list(scored.index) == list(uci_rows.index)
        ids = scored["account_id"].tolist()
    else:
        assert isinstance(scored, pl.DataFrame)
        ids = scored.get_column("account_id").to_list()
    assert ids == [str(i) for i in uci_rows["ID"]]
    frame = scored if isinstance(scored, pl.DataFrame) else pl.from_pandas(scored)
    assert frame.get_column("score").null_count() == 0
    assert set(frame.get_column("grade").unique()) <= {"excellent", "good", "fair", "poor"}
    assert frame.get_column("reasons").list.len().max() <= 4


@needs_uci
def test_scores_equal_the_batch_scorer_on_the_same_accounts(uci_rows: pd.DataFrame) -> None:
    from cardpilot.ingest.uci import read_uci
    from cardpilot.scoring.features import behaviour_features
    from cardpilot.scoring.registry import load_model_dir

    read = read_uci(UCI)
    batch = load_model_dir(MODEL).score(behaviour_features(read, dt.date(2005, 9, 30)))
    scored = cp.load_model(MODEL).score(pl.from_pandas(uci_rows))
    joined = scored.join(batch, on="account_id", suffix="_batch")
    assert joined.height == len(uci_rows)
    assert (joined["score"] == joined["score_batch"]).all()


def _generic_statements() -> pl.DataFrame:
    rows = []
    for account, limit, late in (("B-2", "30000.00", 2), ("A-1", "50000.00", 0)):
        for month in (4, 5, 6, 7, 8, 9):
            rows.append(
                {
                    "account_id": account,
                    "cycle_date": dt.date(2026, month, 28),
                    "due_date": dt.date(2026, month, 28) + dt.timedelta(days=20),
                    "credit_limit": limit,
                    "statement_balance": "12000.50",
                    "amount_paid": "500.00" if late else "12000.50",
                    "repayment_status": late,
                    "days_past_due": 30 * late,
                }
            )
    return pl.DataFrame(rows)


def test_a_generic_statements_table_gives_one_row_per_account_in_first_appearance_order() -> None:
    model = cp.load_model(MODEL, locale="en")
    scored = model.score(_generic_statements())
    assert scored.get_column("account_id").to_list() == ["B-2", "A-1"]
    risky, clean = scored.get_column("pd").to_list()
    assert risky > clean
    texts = scored.get_column("reasons").explode().drop_nulls().to_list()
    assert texts
    assert all(t.isascii() for t in texts)


def test_features_follow_the_input_rows_and_keep_a_pandas_index() -> None:
    frame = _generic_statements().to_pandas()
    feats = cp.features(frame, as_of=dt.date(2026, 9, 30))
    assert feats["account_id"].tolist() == ["B-2", "A-1"]
    assert feats.loc[0, "overdue_count_6m"] > feats.loc[1, "overdue_count_6m"]


def test_a_value_the_import_rejects_raises_naming_row_and_field() -> None:
    bad = _generic_statements().with_columns(
        pl.when(pl.int_range(pl.len()) == 3)
        .then(pl.lit("２００"))
        .otherwise(pl.col("days_past_due").cast(pl.Utf8))
        .alias("days_past_due")
    )
    with pytest.raises(cp.LayoutError, match=r"row 4, days_past_due"):
        cp.features(bad)


def test_a_frame_in_neither_layout_is_refused_with_the_layouts_named() -> None:
    with pytest.raises(cp.LayoutError, match="UCI columns"):
        cp.features(pl.DataFrame({"a": [1]}))


@needs_uci
@pytest.mark.parametrize(
    "estimator",
    [
        cp.CreditScorecard(policy="uci-twd", pdo=25.0),
        # A quick challenger: its defaults (5 folds, 3 seeds) are for real training runs.
        cp.CreditGbm(policy="uci-twd", pdo=25.0, learning_rate=0.3, folds=2, n_seeds=1),
    ],
    ids=["scorecard", "gbm"],
)
def test_both_families_fit_predict_and_clone(
    uci_rows: pd.DataFrame, estimator: cp.CreditModel
) -> None:
    assert clone(estimator).get_params() == estimator.get_params()
    rows = uci_rows.iloc[:1500]
    fitted = clone(estimator).fit(rows)
    proba = fitted.predict_proba(rows)
    assert proba.shape == (len(rows), 2)
    assert np.allclose(proba.sum(axis=1), 1.0)
    again = clone(fitted)
    assert again.get_params()["pdo"] == 25.0
    assert not hasattr(again, "model_")
    auc = fitted.score(rows, rows["Y"].to_numpy())
    assert 0.6 < auc < 1.0


def test_importing_cardpilot_does_not_load_scikit_learn() -> None:
    code = "import sys, cardpilot; print('sklearn' in sys.modules, 'polars' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=os.environ
    )
    assert out.stdout.split() == ["False", "False"]


def test_the_package_ships_type_information() -> None:
    assert (resources.files("cardpilot") / "py.typed").is_file()
