"""``warn run --as-of 2005-10-01`` on the real UCI data (NT$ policies, uci-twd), with an
early-warning GBM fitted quickly on the training rows of the reference split: every current
account is scored, every high-score current account gets an intervention with its reasons, and
none goes to an account already past due. Skipped when ../shared/data is absent."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

import cardpilot.cli.warn  # noqa: F401 - registers the commands on app
from cardpilot.cli import app
from cardpilot.cli.output import envelope_data
from cardpilot.store.db import make_engine

from .conftest import save_quick_warning_model

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data" / "uci_credit_card_default.csv"
HIGH = 0.35  # the uci-twd warning.yaml's high_score threshold

pytestmark = [
    pytest.mark.realdata,
    pytest.mark.slow,
    pytest.mark.skipif(not DATA.exists(), reason=f"real data absent ({DATA})"),
]
runner = CliRunner()


@pytest.fixture(scope="module")
def uci_run(uci_store_copy: Callable[[str], tuple[str, Path]], uci_read: Any) -> dict[str, Any]:
    from cardpilot.scoring.training import candidate_features
    from cardpilot.warning.training import warning_training_data

    url, home = uci_store_copy("uci-warning")
    td = warning_training_data(uci_read, uci_read.labels)
    assert td.split is not None
    train = td.split[0]
    names = tuple(candidate_features(td.features, ("sex", "marital_status"), td.candidates))
    model = save_quick_warning_model(td.features[train], td.y[train], home / "gbm", names)
    args = ["warn", "run", "--as-of", "2005-10-01", "--policy", "uci-twd", "--model", str(model)]
    result = runner.invoke(app, [*args, "--database", url, "--json"])
    assert result.exit_code == 0, result.output
    return {"url": url, "result": envelope_data(result.stdout), "args": args}


def rows(url: str, sql: str) -> list[Any]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql)).all())
    finally:
        engine.dispose()


def test_every_current_account_is_scored_and_the_high_scores_get_interventions(
    uci_run: dict[str, Any],
) -> None:
    result, url = uci_run["result"], uci_run["url"]
    print("warn run on UCI, 2005-10-01:", json.dumps(result, ensure_ascii=False))
    # 23,182 of the 30,000 accounts have nothing past due on the September statement
    assert (result["accounts"], result["current"], result["scored"]) == (30_000, 23_182, 23_182)
    assert result["interventions"] > 0
    assert result["stored"] == result["interventions"]
    high = {r[0] for r in rows(url, f"SELECT account_id FROM warning_scores WHERE score >= {HIGH}")}
    helped = {r[0] for r in rows(url, "SELECT DISTINCT account_id FROM warning_interventions")}
    assert high
    assert high <= helped
    for (reasons,) in rows(url, "SELECT reasons FROM warning_interventions"):
        entries = json.loads(reasons)
        assert entries[0]["code"].startswith("EW_")
        assert all(e["zh-CN"] and e["en"] for e in entries)


def test_no_intervention_goes_to_an_account_already_past_due(uci_run: dict[str, Any]) -> None:
    past_due = rows(
        uci_run["url"],
        "SELECT COUNT(*) FROM warning_interventions w JOIN statements s"
        " ON s.account_id = w.account_id AND s.cycle_date = '2005-09-30'"
        " WHERE s.days_past_due > 0",
    )
    assert past_due[0][0] == 0
    scored_past_due = rows(
        uci_run["url"],
        "SELECT COUNT(*) FROM warning_scores w JOIN statements s"
        " ON s.account_id = w.account_id AND s.cycle_date = '2005-09-30'"
        " WHERE s.days_past_due > 0",
    )
    assert scored_past_due[0][0] == 0


def test_the_watch_list_ranks_the_run_and_a_rerun_adds_nothing(uci_run: dict[str, Any]) -> None:
    url = uci_run["url"]
    listed = runner.invoke(app, ["warn", "list", "--limit", "20", "--database", url, "--json"])
    assert listed.exit_code == 0, listed.output
    watch = envelope_data(listed.stdout)["watch_list"]
    scores = np.array([float(r["score"]) for r in watch])  # decimal text in the envelope
    assert len(watch) == 20
    assert (np.diff(scores) <= 0).all()
    assert all(r["interventions"] for r in watch)
    again = runner.invoke(app, [*uci_run["args"], "--database", url, "--json"])
    out = envelope_data(again.stdout)
    assert (out["stored"], out["queued"]) == (0, 0)
    assert out["already_stored"] == uci_run["result"]["interventions"]
