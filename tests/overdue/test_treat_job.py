"""``treat_overdue`` over the store (SQLite and PostgreSQL): one auditable decision per
overdue account and date, limit actions applied with their history, notices queued in the
same transaction, idempotent re-runs, and the migration matching the models."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import polars as pl
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from cardpilot.cli.output import envelope_data
from cardpilot.jobs.overdue import TreatError, treat_overdue
from cardpilot.overdue.loading import (
    load_overdue_policy,
    overdue_policy_from_data,
    read_overdue_data,
)
from cardpilot.store.db import make_engine, upgrade
from cardpilot.store.models import Base
from cardpilot.store.overdue_treatments import read_treatments

from .conftest import AS_OF, EXPECTED_SEGMENT, LIMIT

OVERDUE_TABLES = {"overdue_treatments", "repayment_plans", "plan_events"}


def _rows(url: str, sql: str) -> list[tuple]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql)).all()]
    finally:
        engine.dispose()


def test_migration_matches_the_treatment_and_plan_models(store_url: str) -> None:
    import cardpilot.store.overdue_models  # noqa: F401

    def only_ours(obj: object, name: str | None, type_: str, *_: object) -> bool:
        table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
        return table is None or table in OVERDUE_TABLES

    upgrade(store_url)
    engine = make_engine(store_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"include_object": only_ours})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


def test_every_overdue_account_is_treated_once_with_reasons_versions_and_a_notice(
    overdue_store: str, scorer
) -> None:
    result = treat_overdue(overdue_store, scorer, as_of=AS_OF)
    stored = read_treatments(make_engine(overdue_store), AS_OF)
    assert dict(zip(stored["account_id"], stored["risk_segment"], strict=True)) == EXPECTED_SEGMENT
    assert result.treated == len(EXPECTED_SEGMENT)
    lengths = stored["reason_codes"].list.len()
    assert ((lengths >= 1) & (lengths <= 4)).all()
    assert (stored["reason_texts_zh"].list.len() == lengths).all()
    assert (stored["reason_texts_en"].list.len() == lengths).all()
    assert set(stored["policy_version"]) == {load_overdue_policy().version}
    assert set(stored["model_version"]) == {"fixed-pd-test-1"}
    queued = _rows(
        overdue_store,
        "SELECT decision_ref, message_type, channel FROM notify_outbox ORDER BY decision_ref",
    )
    refs = {r[0] for r in queued}
    assert refs == {f"overdue_treatment:{i}" for i in stored["decision_id"]}
    assert {r[1] for r in queued} == {"overdue_treatment"}
    assert result.notices == len(queued)


def test_a_rerun_of_the_same_date_treats_nobody_twice(overdue_store: str, scorer) -> None:
    first = treat_overdue(overdue_store, scorer, as_of=AS_OF)
    again = treat_overdue(overdue_store, scorer, as_of=AS_OF)
    assert (again.treated, again.notices) == (0, 0)
    assert again.skipped == first.treated
    counts = _rows(
        overdue_store,
        "SELECT (SELECT COUNT(*) FROM overdue_treatments), (SELECT COUNT(*) FROM notify_outbox),"
        " (SELECT COUNT(*) FROM limit_history)",
    )[0]
    assert counts == (first.treated, first.notices, first.frozen)


def test_high_risk_never_gets_a_waiver_or_extension_and_low_risk_no_higher_rate_or_cut(
    overdue_store: str, scorer
) -> None:
    treat_overdue(overdue_store, scorer, as_of=AS_OF)
    stored = read_treatments(make_engine(overdue_store), AS_OF)
    standard = str(load_overdue_policy().file.charges.standard_penalty_rate_daily)
    high = stored.filter(pl.col("risk_level") == "high")
    low = stored.filter(pl.col("risk_level") == "low")
    assert high.height
    assert low.height
    assert not high["fee_waived"].any()
    assert (high["due_date_extension_days"] == 0).all()
    assert all(float(r) <= float(standard) for r in low["penalty_rate_daily"])
    assert (low["limit_action"] != "cut").all()
    assert low["fee_waived"].all()


def test_freeze_sets_the_account_frozen_with_limit_history_from_overdue(
    overdue_store: str, scorer
) -> None:
    result = treat_overdue(overdue_store, scorer, as_of=AS_OF)
    frozen = {
        r[0]
        for r in _rows(overdue_store, "SELECT account_id FROM accounts WHERE status = 'frozen'")
    }
    assert frozen == {a for a, s in EXPECTED_SEGMENT.items() if s != "low_risk"}
    history = _rows(
        overdue_store,
        "SELECT account_id, source, note, old_limit_minor, new_limit_minor, decision_id"
        " FROM limit_history ORDER BY account_id",
    )
    assert {h[0] for h in history} == frozen
    assert all(h[1:5] == ("overdue", "freeze", LIMIT, LIMIT) for h in history)
    assert all(h[5].startswith("overdue_treatment:") for h in history)
    assert result.frozen == len(frozen)


def test_a_cut_lowers_the_limit_by_the_policy_share_rounded_down(
    overdue_store: str, scorer
) -> None:
    data = read_overdue_data()
    high = next(s for s in data["segments"] if s["code"] == "high_risk")
    high["treatment"]["limit_action"] = "cut"
    high["treatment"]["limit_cut_share"] = 33
    policy = overdue_policy_from_data(data)
    result = treat_overdue(overdue_store, scorer, as_of=AS_OF, policy=policy)
    assert result.cut == 2
    limits = dict(_rows(overdue_store, "SELECT account_id, credit_limit_minor FROM accounts"))
    expected = LIMIT * 67 // 100 // 100 * 100
    assert limits["b-deep"] == limits["e-high-pd"] == expected
    assert limits["a-low"] == LIMIT
    cuts = _rows(overdue_store, "SELECT new_limit_minor FROM limit_history WHERE note = 'cut'")
    assert sorted(c[0] for c in cuts) == [expected, expected]
    stored = read_treatments(make_engine(overdue_store), AS_OF)
    cut_rows = stored.filter(pl.col("limit_action") == "cut")
    assert cut_rows["reason_codes"].list.contains("OVERDUE_LIMIT_CUT").all()


def test_broken_promises_from_stored_plans_feed_the_segment(overdue_store: str, scorer) -> None:
    engine = make_engine(overdue_store)
    with engine.begin() as conn:
        for n in (1, 2):
            conn.execute(
                text(
                    "INSERT INTO repayment_plans (plan_id, account_id, customer_id, kind, months,"
                    " principal_minor, penalty_fees_minor, waiver_share_bp, instalments,"
                    " period_months, grace_days, offered_on, policy_version, status, paid_minor,"
                    " waived_minor, reinstated_minor, status_on) VALUES (:p, 'a-low',"
                    " 'cust-a-low', 'equal_principal', 3, 100, 0, 5000, '[]', 12, 0, :d, 'v',"
                    " 'broken', 0, 0, 0, :d)"
                ),
                {"p": f"old-{n}", "d": dt.date(2005, 3, n)},
            )
    engine.dispose()
    treat_overdue(overdue_store, scorer, as_of=AS_OF)
    stored = read_treatments(make_engine(overdue_store), AS_OF)
    row = stored.filter(pl.col("account_id") == "a-low").row(0, named=True)
    assert row["broken_promises"] == 2
    assert row["risk_segment"] == "high_risk"
    assert "OVERDUE_BROKEN_PROMISES" in row["reason_codes"]


def test_a_policy_in_another_currency_is_refused_with_the_fix(overdue_store: str, scorer) -> None:
    twd = load_overdue_policy(
        __import__("pathlib").Path(__file__).resolve().parents[2]
        / "src" / "cardpilot" / "policies" / "uci-twd"
    )  # fmt: skip
    # The store's accounts are in CNY: the error names the shipped policy in CNY.
    with pytest.raises(TreatError, match="Use --policy default, the policy in CNY"):
        treat_overdue(overdue_store, scorer, as_of=AS_OF, policy=twd)


def test_cli_treat_writes_one_row_per_overdue_account_and_counts(
    overdue_store: str, scorer, tmp_path, monkeypatch
) -> None:
    from typer.testing import CliRunner

    import cardpilot.cli.overdue
    import cardpilot.cli.review
    from cardpilot.cli import app

    monkeypatch.setattr(cardpilot.cli.review, "load_scorer", lambda model, family: scorer)
    out = tmp_path / "treatments.csv"
    args = ["overdue", "treat", "--as-of", AS_OF.isoformat(), "--database", overdue_store]
    result = CliRunner().invoke(app, [*args, "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    payload = envelope_data(result.stdout)
    assert payload["by_segment"] == {"high_risk": 2, "low_risk": 2, "medium_risk": 2}
    assert payload["by_limit_action"] == {"freeze": 4, "none": 2}
    means = payload["mean_pd_by_segment"]
    assert Decimal(means["high_risk"]) > Decimal(means["low_risk"])  # rates: decimal strings
    frame = pl.read_csv(out)
    assert frame.height == 6
    for column in (
        "account_id", "risk_segment", "bucket", "days_past_due", "treatment", "penalty_rate",
        "fee_waived", "due_date_extension_days", "limit_action", "reason_codes", "reason_texts",
    ):  # fmt: skip
        assert column in frame.columns
    low = frame.filter(pl.col("account_id") == "a-low").row(0, named=True)
    assert (low["penalty_rate"], low["due_date_extension_days"]) == (0.0005, 7)
    assert low["reason_codes"].split(";")[0] == "OVERDUE_LOW_PD_EARLY"
    assert "刚刚逾期" in low["reason_texts"]


def test_small_chunks_and_a_run_cut_short_still_treat_each_account_once(
    overdue_store: str, scorer
) -> None:
    # An earlier run that died after its first chunk: only the first accounts are treated.
    first = treat_overdue(overdue_store, scorer, as_of=AS_OF, chunk_rows=2)
    engine = make_engine(overdue_store)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM notify_outbox WHERE account_id > 'b'"))
        conn.execute(text("DELETE FROM limit_history WHERE account_id > 'b'"))
        conn.execute(text("DELETE FROM overdue_treatments WHERE account_id > 'b'"))
    engine.dispose()
    resumed = treat_overdue(overdue_store, scorer, as_of=AS_OF, chunk_rows=3)
    assert resumed.skipped == 1  # a-low, kept from the first run
    assert resumed.treated == first.treated - 1
    stored = read_treatments(make_engine(overdue_store), AS_OF)
    assert dict(zip(stored["account_id"], stored["risk_segment"], strict=True)) == EXPECTED_SEGMENT
    refs = _rows(overdue_store, "SELECT COUNT(DISTINCT decision_ref) FROM notify_outbox")
    assert refs == [(len(EXPECTED_SEGMENT),)]


def test_each_decision_stores_the_charges_it_assessed_and_the_waived_share(
    overdue_store: str, scorer
) -> None:
    """The stored charges are ``assess_charges`` of each account (overdue balance, days past
    due, unpaid minimum 500.00 of the latest statement); the waiver is the segment's share."""
    from cardpilot.domain.fees import OverdueBalances
    from cardpilot.overdue.charges import assess_charges

    policy = load_overdue_policy()
    treat_overdue(overdue_store, scorer, as_of=AS_OF, policy=policy)
    stored = read_treatments(make_engine(overdue_store), AS_OF)
    assert stored.height == len(EXPECTED_SEGMENT)
    for r in stored.iter_rows(named=True):
        want = assess_charges(
            policy,
            r["risk_segment"],
            OverdueBalances(r["overdue_balance_minor"]),
            r["days_past_due"],
            50_000,
        )
        assert (r["penalty_interest_minor"], r["late_fee_minor"]) == (
            want.penalty_interest_minor,
            want.late_fee_minor,
        )
        assert r["late_fee_minor"] == 2_500  # 5 % of the unpaid minimum 500.00
        waived = (want.total_minor * r["fee_waiver_share_bp"] + 5_000) // 10_000
        assert r["fee_waived_minor"] == waived
        if r["risk_segment"] == "low_risk":
            assert r["fee_waived_minor"] > 0
        else:
            assert r["fee_waived_minor"] == 0
