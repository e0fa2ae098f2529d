"""Application scoring: the applications file, the features, and both model families trained
on the real applications (credit_data) on the reference split, marital status excluded."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from cardpilot.cli import app
from cardpilot.cli.output import envelope_data
from cardpilot.config import get_settings
from cardpilot.ingest.applications import read_applications
from cardpilot.scoring.application import APPLICATION_FEATURES, application_features
from cardpilot.scoring.reasons import reason_code, reason_text

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "credit_data_applications.csv"
needs_data = pytest.mark.skipif(not DATA.exists(), reason="real applications data not present")

HEADER = (
    "Status,Seniority,Home,Time,Age,Marital,Records,Job,Expenses,Income,Assets,Debt,Amount,Price"
)


@needs_data
def test_the_credit_data_file_reads_every_application_by_its_published_names() -> None:
    read = read_applications(DATA)
    assert (read.rows_read, read.applications.height, read.rejects.height) == (4454, 4454, 0)
    assert read.labels.get_column("value").sum() == 1254
    assert read.applications.get_column("monthly_income_minor").null_count() == 381


def test_a_bad_application_value_is_rejected_with_row_and_field(tmp_path: Path) -> None:
    path = tmp_path / "apps.csv"
    path.write_text(
        HEADER + "\n"
        "good,9,rent,60,30,married,no,freelance,73,129.0,0.0,0.0,800,846\n"
        "bad,1,castle,60,30,single,no,fixed,73,129.0,0.0,0.0,800,846\n"
        "good,2,owner,60,30,single,maybe,fixed,73,129.0,0.0,0.0,８00,846\n",
        encoding="utf-8",
    )
    read = read_applications(path)
    assert read.applications.get_column("application_id").to_list() == ["A1"]
    rejects = {(r["row"], r["field"]) for r in read.rejects.iter_rows(named=True)}
    assert rejects == {(3, "Home"), (4, "Records"), (4, "Amount")}


def test_application_features_never_read_marital_status() -> None:
    row = {
        "application_id": "A1",
        "seniority_years": 3,
        "home": "rent",
        "term_months": 36,
        "age": 30,
        "adverse_records": False,
        "job": "fixed",
        "monthly_income_minor": 20000,
        "monthly_expenses_minor": 6000,
        "assets_minor": 0,
        "debt_minor": 0,
        "amount_requested_minor": 90000,
        "purchase_price_minor": 100000,
    }
    married = application_features(pl.DataFrame([{**row, "marital_status": "married"}]))
    single = application_features(pl.DataFrame([{**row, "marital_status": "single"}]))
    assert married.equals(single)
    assert "marital_status" not in married.columns
    assert married.get_column("instalment_to_income").item() == pytest.approx(2500 / 20000)
    assert married.get_column("amount_to_assets").item() is None  # no assets: missing


def test_every_application_feature_has_a_reason_in_both_languages() -> None:
    for name in APPLICATION_FEATURES:
        code = reason_code(name)
        assert reason_text(code, "zh-CN") != reason_text(code, "en")


@needs_data
def test_model_train_application_prints_both_families_and_the_scorecard_reaches_0_850(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CARDPILOT_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    out = tmp_path / "models"
    result = CliRunner().invoke(
        app,
        ["model", "train", "--family", "application", "--data", str(DATA), "--out", str(out)],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    printed = CliRunner().invoke(app, ["model", "list", "--json"]).stdout
    listed = envelope_data(printed)["models"]
    assert {m["family"] for m in listed if m["champion"]} == {
        "application-scorecard",
        "application-gbm",
    }
    meta = json.loads((out / "scorecard" / "metadata.json").read_text(encoding="utf-8"))
    assert meta["subject"] == "application"
    assert meta["metrics"]["test_auc"] >= 0.850
    assert "marital_status" not in meta["features"]
    gbm = json.loads((out / "gbm" / "metadata.json").read_text(encoding="utf-8"))
    assert gbm["metrics"]["test_auc"] >= 0.840
    get_settings.cache_clear()
