"""The must-show of issue #5 on the real UCI data: import, train, ``review --as-of 2005-10-01``
with the NT$ policy variant (policies/uci-twd).

Trains the scorecard once (about a minute) unless ``CARDPILOT_REVIEW_MODEL_DIR`` names a folder
written by ``cardpilot model train --out DIR``. Skipped when ../shared/data is absent.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from cardpilot.jobs.review import review_portfolio
from cardpilot.policy.loading import load_policy
from cardpilot.store.db import make_engine
from cardpilot.store.limit_decisions import read_decisions

DATA = (
    Path(__file__).resolve().parents[2].parent / "shared" / "data" / "uci_credit_card_default.csv"
)
POLICY = Path(__file__).resolve().parents[2] / "src" / "cardpilot" / "policies" / "uci-twd"

pytestmark = [
    pytest.mark.realdata,
    pytest.mark.slow,
    pytest.mark.skipif(not DATA.exists(), reason=f"real data absent ({DATA})"),
]


@pytest.fixture(scope="module")
def model_dir(uci_model_dir: Path) -> Path:
    given = os.environ.get("CARDPILOT_REVIEW_MODEL_DIR")
    return Path(given) if given else uci_model_dir


@pytest.fixture(scope="module")
def reviewed(model_dir: Path, uci_store_copy: Callable[[str], tuple[str, Path]]) -> pl.DataFrame:
    from cardpilot.scoring.registry import load_model_dir

    url, _home = uci_store_copy("uci-store")
    result = review_portfolio(
        url,
        load_model_dir(model_dir / "scorecard"),
        policy=load_policy(POLICY),
        as_of=dt.date(2005, 10, 1),
    )
    assert result.decided == 30_000
    engine = make_engine(url)
    try:
        return read_decisions(engine)
    finally:
        engine.dispose()


def test_every_uci_account_is_decided_in_all_four_grades_with_both_directions(reviewed):
    assert reviewed.height == 30_000
    assert reviewed["account_id"].n_unique() == 30_000
    assert set(reviewed["grade"]) == {"excellent", "good", "fair", "poor"}
    assert {"increase", "decrease"} <= set(reviewed["action"])
    assert reviewed["reason_codes"].list.len().min() >= 1


def test_no_uci_increase_goes_to_an_overdue_account_or_leaves_its_range(reviewed):
    policy = load_policy(POLICY)
    ranges = {g.code: g.increase_pct for g in policy.limits.grades}
    increases = reviewed.filter(pl.col("action") == "increase")
    assert (increases["consecutive_overdue_months"] == 0).all()
    for row in increases.iter_rows(named=True):
        band = ranges[row["grade"]]
        assert band is not None
        assert band.min * 100 <= row["increase_pct_bp"] <= band.max * 100
        assert row["new_limit_minor"] > row["old_limit_minor"]


def test_uci_decrease_triggers_are_honoured(reviewed):
    for grade, months in {"excellent": 3, "good": 2, "fair": 1}.items():
        hit = reviewed.filter(
            (pl.col("grade") == grade) & (pl.col("consecutive_overdue_months") >= months)
        )
        assert (
            (hit["action"] == "decrease")
            | (hit["reason_codes"].list.first() == "KEEP_AT_LIMIT_FLOOR")
        ).all()
    poor = reviewed.filter(
        (pl.col("grade") == "poor") & (pl.col("consecutive_overdue_months") >= 1)
    )
    assert (
        (poor["action"] == "decrease")
        | (poor["reason_codes"].list.first() == "KEEP_AT_LIMIT_FLOOR")
    ).all()


def test_consecutive_overdue_months_match_the_repayment_status_codes(reviewed):
    raw = pl.read_csv(DATA, infer_schema_length=0)
    # X6..X11 are the repayment status codes PAY_0, PAY_2..PAY_6: September back to April 2005.
    pay = ["X6", "X7", "X8", "X9", "X10", "X11"]
    codes = raw.select("ID", *[pl.col(c).cast(pl.Int64) for c in pay])
    expected = {}
    for row in codes.iter_rows():
        count = 0
        for code in row[1:]:
            if code < 1:
                break
            count += 1
        expected[str(row[0])] = count
    got = dict(
        zip(
            reviewed["account_id"].to_list(),
            reviewed["consecutive_overdue_months"].to_list(),
            strict=True,
        )
    )
    assert got == expected  # the UCI import keeps ID as the account id
