"""``cardpilot apply``: every application decided with the application model, inside the grade's
range and under the affordability cap; offers open an account (limit history, ledger event),
the run is audited, and deciding the same file again changes nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest
import yaml
from sqlalchemy import text
from typer.testing import CliRunner

from cardpilot.cli import app
from cardpilot.cli.output import envelope_data
from cardpilot.ingest.applications import read_applications
from cardpilot.jobs.apply import apply_applications
from cardpilot.policy.catalogue import shipped_dir
from cardpilot.policy.customer import CUSTOMER_FILE, load_customer_policy
from cardpilot.policy.loading import load_policy
from cardpilot.store.audit import iter_records, verify_chain
from cardpilot.store.db import make_engine

runner = CliRunner()
MODEL = Path(__file__).resolve().parents[1] / "fixtures" / "models" / "application-scorecard"
HEADER = (
    "application_id,customer_id,seniority_years,home,term_months,age,marital_status,"
    "adverse_records,job,monthly_expenses,monthly_income,assets,debt,amount_requested,"
    "purchase_price\n"
)
ROWS = [
    "S1,,15,owner,36,45,married,no,fixed,50,250,8000,0,800,1200",  # steady, well off
    "S2,,10,owner,24,40,single,no,fixed,45,,5000,0,600,1000",  # income not stated
    "S3,,1,rent,60,23,single,yes,partime,90,60,0,500,2000,2100",  # expenses above income
    "S4,C-77,3,rent,48,30,married,yes,freelance,60,120,0,0,1500,1600",  # adverse records
    "S5,,8,parents,36,28,single,no,fixed,35,150,2000,0,900,1300",
    "S6,,0,other,60,21,divorced,yes,others,75,80,0,1000,2500,2600",
]


def _file(tmp_path: Path, rows: list[str] = ROWS) -> Path:
    path = tmp_path / "applications.csv"
    path.write_text(HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def _policies(folder: Path | None = None):  # type: ignore[no-untyped-def]
    folder = folder or shipped_dir() / "credit-data"
    return load_policy(folder), load_customer_policy(folder)


def _query(url: str, sql: str) -> list[tuple]:
    db = make_engine(url)
    try:
        with db.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql))]
    finally:
        db.dispose()


def test_every_application_is_decided_within_its_grade_range_and_under_the_cap(
    tmp_path, sqlite_store, application_model
):
    limits, customer = _policies()
    read = read_applications(_file(tmp_path))
    result = apply_applications(
        make_engine(sqlite_store), read, limits, customer, application_model, source="test"
    )
    d = result.decisions
    assert d.height == len(ROWS)
    assert d["action"].is_in(["offer", "decline"]).all()
    offers = d.filter(pl.col("action") == "offer")
    assert (offers["initial_limit_minor"] >= offers["grade_min_minor"]).all()
    assert (offers["initial_limit_minor"] <= offers["grade_max_minor"]).all()
    capped = offers.filter(pl.col("affordability_cap_minor").is_not_null())
    assert (capped["initial_limit_minor"] <= capped["affordability_cap_minor"]).all()
    assert d.filter(pl.col("application_id") == "S3")["action"].item() == "decline"
    assert (d["reason_codes"].list.len().is_between(1, 4)).all()
    assert (d["reason_texts_zh"].list.len() == d["reason_codes"].list.len()).all()
    assert d["model_version"].unique().to_list() == [application_model.version]
    assert d["customer_policy_version"].unique().to_list() == [customer.version]
    assert d["policy_version"].unique().to_list() == [limits.version]


def test_an_undeclared_income_gets_the_grade_minimum_and_says_why(
    tmp_path, sqlite_store, application_model
):
    limits, customer = _policies()
    read = read_applications(_file(tmp_path))
    result = apply_applications(
        make_engine(sqlite_store), read, limits, customer, application_model, source="test"
    )
    row = result.decisions.filter(pl.col("application_id") == "S2").row(0, named=True)
    if row["action"] == "offer":
        assert row["initial_limit_minor"] == row["grade_min_minor"]
    assert row["reason_codes"][0] == "APP_INCOME_UNKNOWN"
    assert "收入" in row["reason_texts_zh"][0]


def test_offers_open_accounts_with_history_and_a_ledger_event_and_the_run_is_audited(
    tmp_path, sqlite_store, application_model
):
    limits, customer = _policies()
    read = read_applications(_file(tmp_path))
    db = make_engine(sqlite_store)
    result = apply_applications(db, read, limits, customer, application_model, source="t")
    offers = result.decisions.filter(pl.col("action") == "offer")
    assert result.opened == offers.height > 0
    accounts = dict(_query(sqlite_store, "SELECT account_id, credit_limit_minor FROM accounts"))
    assert accounts == dict(
        zip(offers["account_id"].to_list(), offers["initial_limit_minor"].to_list(), strict=True)
    )
    history = _query(
        sqlite_store,
        "SELECT account_id, old_limit_minor, new_limit_minor, source FROM limit_history",
    )
    assert {(a, None, accounts[a], "apply") for a in accounts} == set(history)
    events = _query(sqlite_store, "SELECT account_id, kind, source FROM ledger_postings")
    assert {(a, "limit_change", "decision") for a in accounts} == set(events)
    customers = {r[0] for r in _query(sqlite_store, "SELECT customer_id FROM customers")}
    assert customers == set(offers["customer_id"].to_list())
    if "S4" in offers["application_id"].to_list():
        assert "C-77" in customers
    stored = _query(sqlite_store, "SELECT application_id, action FROM application_decisions")
    assert len(stored) == len(ROWS)
    checked, broken = verify_chain(db)
    assert broken is None
    assert checked == 1
    record = next(iter_records(db))
    assert record.action == "apply.run"
    assert json.loads(record.payload)["accounts_opened"] == offers.height


def test_deciding_the_same_file_again_adds_nothing(tmp_path, sqlite_store, application_model):
    limits, customer = _policies()
    read = read_applications(_file(tmp_path))
    db = make_engine(sqlite_store)
    first = apply_applications(db, read, limits, customer, application_model, source="t")
    again = apply_applications(db, read, limits, customer, application_model, source="t")
    assert (again.added, again.opened) == (0, 0)
    assert first.added == len(ROWS)
    assert len(_query(sqlite_store, "SELECT 1 FROM accounts")) == first.opened


def test_a_decline_rule_declines_with_its_reason_first(tmp_path, sqlite_store, application_model):
    folder = shutil.copytree(shipped_dir() / "credit-data", tmp_path / "policy")
    data = yaml.safe_load((folder / CUSTOMER_FILE).read_text(encoding="utf-8"))
    data["applications"]["decline"] = [
        {
            "reason": "APP_DECLINE_HIGH_RISK",
            "when": {"feature": "home", "op": "==", "value": "rent"},
        }
    ]
    (folder / CUSTOMER_FILE).write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    limits, customer = _policies(folder)
    read = read_applications(_file(tmp_path))
    result = apply_applications(
        make_engine(sqlite_store), read, limits, customer, application_model, source="t"
    )
    renters = result.decisions.filter(pl.col("application_id").is_in(["S3", "S4"]))
    assert renters["action"].to_list() == ["decline", "decline"]
    s4 = renters.row(1, named=True)
    assert s4["reason_codes"][0] == "APP_DECLINE_HIGH_RISK"
    assert s4["initial_limit_minor"] is None


def test_marital_status_never_changes_a_decision(tmp_path, sqlite_store, application_model):
    limits, customer = _policies()
    married = read_applications(_file(tmp_path))
    flipped = [r.replace(",married,", ",single,").replace(",divorced,", ",married,") for r in ROWS]
    (tmp_path / "b").mkdir()
    other = read_applications(_file(tmp_path / "b", [r.replace("S", "T", 1) for r in flipped]))
    db = make_engine(sqlite_store)
    a = apply_applications(db, married, limits, customer, application_model, source="a")
    b = apply_applications(db, other, limits, customer, application_model, source="b")
    columns = ["action", "grade", "score", "initial_limit_minor", "reason_codes"]
    assert a.decisions.select(columns).equals(b.decisions.select(columns))


def test_the_command_reads_stdin_and_prints_json(tmp_path, sqlite_store, monkeypatch):
    monkeypatch.setenv("CARDPILOT_HOME", str(tmp_path / "home"))
    body = (HEADER + "\n".join(ROWS) + "\n").encode("utf-8")
    result = runner.invoke(
        app,
        [
            "apply", "-", "--policy", "credit-data", "--model",
            str(MODEL),
            "--database", sqlite_store, "--json",
        ],
        input=body,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    out = envelope_data(result.stdout)
    assert out["applications"] == out["decided"] == len(ROWS)
    assert out["offered"] + out["declined"] == len(ROWS)
    assert [g["grade"] for g in out["grades"]] == ["excellent", "good", "fair", "poor"]
    first = out["decisions"][0]
    assert set(first["reasons"][0]) == {"code", "zh-CN", "en"}


@pytest.mark.usefixtures("english")
def test_a_bad_row_is_refused_naming_row_and_field(tmp_path, sqlite_store):
    bad = _file(tmp_path, [*ROWS[:2], "S9,,x,owner,36,45,married,no,fixed,50,250,0,0,800,900"])
    result = runner.invoke(
        app, ["apply", str(bad), "--policy", "credit-data", "--database", sqlite_store]
    )
    assert result.exit_code == 2
    assert "row 4 seniority_years" in result.output


@pytest.mark.parametrize("policy", ["default", "credit-data"])
def test_the_limit_policy_is_the_one_the_review_uses(policy: str) -> None:
    limits, customer = _policies(shipped_dir() / policy)
    assert customer.currency == limits.limits.currency
