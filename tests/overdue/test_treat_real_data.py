"""The must-show of issue #7 item 3 on the real UCI data: import, train, ``overdue treat
--as-of 2005-10-01`` with the NT$ policy variant (policies/uci-twd/overdue.yaml).

The scorecard is fitted once on the training rows of the reference split (about a minute on
a quiet machine) unless ``CARDPILOT_OVERDUE_MODEL_DIR`` (or ``CARDPILOT_REVIEW_MODEL_DIR``)
names a folder written by ``cardpilot model train --out DIR``. Skipped when ../shared/data is
absent.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from sqlalchemy import text

from cardpilot.cli.output import envelope_data
from cardpilot.overdue.loading import load_overdue_policy
from cardpilot.store.db import make_engine

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data" / "uci_credit_card_default.csv"
POLICY = ROOT / "src" / "cardpilot" / "policies" / "uci-twd"
AS_OF = dt.date(2005, 10, 1)

pytestmark = [
    pytest.mark.realdata,
    pytest.mark.slow,
    pytest.mark.skipif(not DATA.exists(), reason=f"real data absent ({DATA})"),
]


@pytest.fixture(scope="module")
def model(uci_model_dir: Path) -> Any:
    from cardpilot.scoring.registry import load_model_dir

    given = os.environ.get("CARDPILOT_OVERDUE_MODEL_DIR") or os.environ.get(
        "CARDPILOT_REVIEW_MODEL_DIR"
    )
    folder = Path(given) if given else uci_model_dir
    return load_model_dir(folder / "scorecard" if (folder / "scorecard").is_dir() else folder)


@pytest.fixture(scope="module")
def treated(model: Any, uci_store_copy: Callable[[str], tuple[str, Path]]) -> dict[str, Any]:
    from typer.testing import CliRunner

    import cardpilot.cli.overdue  # registers the command
    import cardpilot.cli.review
    from cardpilot.cli import app

    url, home = uci_store_copy("uci-overdue")
    out = home / "treatments.csv"
    args = ["overdue", "treat", "--as-of", AS_OF.isoformat(), "--policy", str(POLICY)]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(cardpilot.cli.review, "load_scorer", lambda _model, _family: model)
        result = CliRunner().invoke(
            app,
            [*args, "--database", url, "--out", str(out), "--json"],
            env={"CARDPILOT_HOME": str(home)},
        )
        assert result.exit_code == 0, result.output
        again = CliRunner().invoke(app, [*args, "--database", url, "--json"])
        assert again.exit_code == 0, again.output
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            notices = conn.execute(
                text("SELECT COUNT(DISTINCT decision_ref) FROM notify_outbox")
            ).scalar_one()
            stored = conn.execute(text("SELECT COUNT(*) FROM overdue_treatments")).scalar_one()
    finally:
        engine.dispose()
    return {
        "summary": envelope_data(result.stdout),
        "rerun": envelope_data(again.stdout),
        "frame": pl.read_csv(out, schema_overrides={"account_id": pl.String}),
        "notices": int(notices),
        "stored": int(stored),
        "url": url,
    }


def test_every_account_overdue_in_september_2005_is_treated_exactly_once_with_a_reason(
    treated: dict[str, Any],
) -> None:
    raw = pl.read_csv(DATA, infer_schema_length=0)
    # X6 is PAY_0, the September 2005 repayment status: 1..9 = months of payment delay.
    overdue = set(raw.filter(pl.col("X6").cast(pl.Int64) >= 1)["ID"].to_list())
    frame = treated["frame"]
    assert frame["account_id"].n_unique() == frame.height
    assert set(frame["account_id"]) == overdue
    assert treated["stored"] == len(overdue)
    assert treated["rerun"]["treated"] == 0
    assert treated["rerun"]["skipped"] == len(overdue)
    assert treated["notices"] == len(overdue)
    assert (frame["reason_codes"].str.len_chars() > 0).all()
    assert (frame["reason_codes"].str.split(";").list.len() <= 4).all()


def test_high_risk_never_gets_a_waiver_or_an_extension_on_uci(treated: dict[str, Any]) -> None:
    high = treated["frame"].filter(pl.col("risk_segment") == "high_risk")
    assert high.height > 0
    assert not high["fee_waived"].any()
    assert (high["due_date_extension_days"] == 0).all()


def test_low_risk_never_gets_a_higher_penalty_rate_or_a_cut_on_uci(treated: dict[str, Any]) -> None:
    standard = float(load_overdue_policy(POLICY).file.charges.standard_penalty_rate_daily)
    low = treated["frame"].filter(pl.col("risk_segment") == "low_risk")
    assert low.height > 0
    assert (low["penalty_rate"].cast(pl.Float64) <= standard).all()
    assert (low["limit_action"] != "cut").all()


def test_mean_pd_of_high_risk_is_above_low_risk_on_uci(treated: dict[str, Any]) -> None:
    means = {k: Decimal(v) for k, v in treated["summary"]["mean_pd_by_segment"].items()}
    assert set(means) == {"high_risk", "medium_risk", "low_risk"}
    assert means["high_risk"] > means["medium_risk"] > means["low_risk"]


def test_treat_assesses_the_charges_and_waives_the_low_risk_share_on_uci(
    treated: dict[str, Any],
) -> None:
    """Every decision stores the charges ``assess_charges`` gives for it (the UCI statements
    state no minimum payment, so no late fee: penalty interest only), low-risk accounts with a
    waiver share and positive charges have a positive waived amount, high-risk ones none."""
    from cardpilot.domain.fees import OverdueBalances
    from cardpilot.overdue.charges import assess_charges
    from cardpilot.store.overdue_treatments import read_treatments

    policy = load_overdue_policy(POLICY)
    engine = make_engine(treated["url"])
    try:
        stored = read_treatments(engine, AS_OF)
    finally:
        engine.dispose()
    for r in stored.iter_rows(named=True):
        want = assess_charges(
            policy,
            r["risk_segment"],
            OverdueBalances(max(0, r["overdue_balance_minor"])),
            r["days_past_due"],
            0,
        )
        assert (r["penalty_interest_minor"], r["late_fee_minor"]) == (
            want.penalty_interest_minor,
            want.late_fee_minor,
        ), r["account_id"]
        assert r["fee_waived_minor"] == (want.total_minor * r["fee_waiver_share_bp"] + 5_000) // (
            10_000
        )
    charged = pl.col("penalty_interest_minor") + pl.col("late_fee_minor")
    low = stored.filter(
        (pl.col("risk_segment") == "low_risk") & (pl.col("fee_waiver_share_bp") > 0) & (charged > 0)
    )
    assert low.height > 0
    assert (low["fee_waived_minor"] > 0).all()
    high = stored.filter(pl.col("risk_segment") == "high_risk")
    assert high.height > 0
    assert (high["fee_waived_minor"] == 0).all()
    assert high.select(charged.sum()).item() > 0
    frame = treated["frame"]  # the --out export carries the amounts, in yuan
    assert {"penalty_interest", "late_fee", "fees_charged", "fee_waived_amount"} <= set(
        frame.columns
    )
    assert (frame.filter(pl.col("risk_segment") == "high_risk")["fee_waived_amount"] == 0).all()
