"""The overdue report on a small hand-made store (SQLite and PostgreSQL): buckets, roll rates,
treatments by segment, plans kept and broken, and fees charged and waived, each figure checked
against a value worked out by hand (docs/overdue.md "Report")."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from cardpilot.cli import app
from cardpilot.cli.output import envelope_data
from cardpilot.jobs.aging import run_aging
from cardpilot.jobs.overdue import treat_overdue
from cardpilot.jobs.plans import accept_plan, advance_plans, offer_plan
from cardpilot.overdue.aging import roll_rates
from cardpilot.overdue.loading import load_overdue_policy
from cardpilot.reports.overdue import (
    OverdueReportError,
    fee_totals,
    overdue_report_figures,
    policy_for_store,
    write_overdue_report,
)
from cardpilot.store.db import make_engine
from cardpilot.store.frames import read_portfolio_frames

from .conftest import AS_OF
from .test_plan_store import _pay

OFFER_ON = dt.date(2005, 10, 1)


@pytest.fixture
def reported(overdue_store: str, scorer):
    """Aged (three cycle snapshots), treated on 2005-09-30, and four plans offered on
    2005-10-01: a-low kept, g-cured broken after one instalment, c-medium active (three of six
    instalments paid), h-no-pd never accepted (the offer expires)."""
    policy = load_overdue_policy()
    db = make_engine(overdue_store)
    run_aging(db, read_portfolio_frames(db).statements, AS_OF, policy)
    treat_overdue(overdue_store, scorer, as_of=AS_OF, policy=policy)
    kept = offer_plan(db, "a-low", policy, on=OFFER_ON, months=3)
    broken = offer_plan(db, "g-cured", policy, on=OFFER_ON, months=3, kind="deferral")
    open_ = offer_plan(db, "c-medium", policy, on=OFFER_ON, months=6, kind="amortising")
    offer_plan(db, "h-no-pd", policy, on=OFFER_ON, months=3)
    for plan in (kept, broken, open_):
        accept_plan(db, plan.plan_id, on=OFFER_ON + dt.timedelta(days=1))
    for n, inst in enumerate(kept.instalments):
        due = dt.date.fromisoformat(inst["due_date"])
        _pay(db, "a-low", due - dt.timedelta(days=3), inst["amount_minor"], f"K{n}")
    first = broken.instalments[0]
    _pay(db, "g-cured", dt.date.fromisoformat(first["due_date"]), first["amount_minor"], "B0")
    for n, inst in enumerate(open_.instalments[:3]):
        _pay(db, "c-medium", dt.date.fromisoformat(inst["due_date"]), inst["amount_minor"], f"O{n}")
    advance_plans(db, dt.date(2005, 10, 20))
    advance_plans(db, dt.date(2006, 1, 10))
    yield db, policy, {"kept": kept, "broken": broken, "open": open_}
    db.dispose()


def test_buckets_and_roll_rates(reported) -> None:
    db, policy, _ = reported
    figures = overdue_report_figures(db, policy)
    assert figures["as_of"] == "2005-09-30"
    assert figures["snapshot_date"] == "2005-09-30"
    buckets = {b["bucket"]: b for b in figures["buckets"]}
    assert [b["bucket"] for b in figures["buckets"]][:3] == ["current", "M1", "M2"]
    # d-current; a, c, e, g, h at 30 days; f-closed at 60; b-deep at 120. 5,000.00 each.
    assert {k: b["accounts"] for k, b in buckets.items() if b["accounts"]} == {
        "current": 1,
        "M1": 5,
        "M2": 1,
        "M4": 1,
    }
    assert buckets["M1"]["balance_minor"] == 5 * 500_000
    assert buckets["M1"]["overdue_balance_minor"] == 5 * 500_000
    assert buckets["current"]["overdue_balance_minor"] == 0
    assert buckets["M1"]["share"] == "0.625000"
    rolls = figures["roll_rates"]
    assert (rolls["from"], rolls["to"]) == ("2005-08-31", "2005-09-30")
    forward = {(r["from"], r["to"]): r for r in rolls["forward"]}
    # On 2005-08-31 six accounts were current; five of them were 30 days past due a month later.
    assert forward[("current", "M1")]["accounts"] == 5
    assert forward[("current", "M1")]["from_accounts"] == 6
    assert forward[("current", "M1")]["rate"] == "0.833333"
    assert forward[("M1", "M2")]["rate"] == "1.000000"  # f-closed 30 → 60
    assert forward[("M3", "M4")]["rate"] == "1.000000"  # b-deep 90 → 120
    assert all(c["accounts"] == 0 for c in rolls["cures"])


def test_the_roll_matrix_covers_every_pair_of_cycle_snapshots_as_roll_rates_counts_them(
    reported,
) -> None:
    db, policy, _ = reported
    figures = overdue_report_figures(db, policy)
    pairs = [(p["from"], p["to"]) for p in figures["roll_history"]]
    assert pairs == [("2005-07-31", "2005-08-31"), ("2005-08-31", "2005-09-30")]
    snapshots = {
        day: pl.read_database(
            text(
                "SELECT account_id, bucket, balance_minor FROM aging_snapshots"
                " WHERE snapshot_date = :d"
            ),
            db,
            execute_options={"parameters": {"d": day}},
        )
        for day in (dt.date(2005, 8, 31), dt.date(2005, 9, 30))
    }
    expected = roll_rates(*snapshots.values())
    latest = {(t["from"], t["to"]): t for t in figures["roll_history"][-1]["transitions"]}
    assert set(latest) == set(zip(expected["from_bucket"], expected["to_bucket"], strict=True))
    for r in expected.iter_rows(named=True):
        moved = latest[(r["from_bucket"], r["to_bucket"])]
        assert (moved["accounts"], moved["from_accounts"]) == (r["accounts"], r["from_accounts"])
        assert moved["rate"] == f"{r['rate']:.6f}"


def test_treatments_by_segment(reported) -> None:
    db, policy, _ = reported
    segments = {s["segment"]: s for s in overdue_report_figures(db, policy)["segments"]}
    assert {k: s["accounts"] for k, s in segments.items()} == {
        "high_risk": 2,
        "low_risk": 2,
        "medium_risk": 2,
    }
    low, high, medium = segments["low_risk"], segments["high_risk"], segments["medium_risk"]
    assert (low["waivers"], low["waiver_share_bp"], low["extensions"], low["extension_days"]) == (
        2,
        5_000,
        2,
        7,
    )
    assert (low["limit_none"], low["limit_freeze"], low["limit_cut"]) == (2, 0, 0)
    assert (high["waivers"], high["extensions"], high["limit_freeze"]) == (0, 0, 2)
    assert (medium["waivers"], medium["limit_freeze"]) == (0, 2)
    assert high["penalty_rate_daily"] == "0.0006"
    assert low["penalty_rate_daily"] == medium["penalty_rate_daily"] == "0.0005"
    assert high["overdue_balance_minor"] == 2 * 500_000


def test_fees_charged_and_waived_are_exact(reported) -> None:
    db, policy, plans = reported
    fees = fee_totals(db, policy)
    # Penalty interest on 5,000.00 at the segment's daily rate for the days past due:
    # a, g, c, h 30 days × 0.05 % = 75.00 each; e 30 days × 0.06 % = 90.00; b 120 × 0.06 % = 360.00.
    assert fees.penalty_interest_minor == 4 * 7_500 + 9_000 + 36_000
    # Late fee: 5 % of the unpaid minimum 500.00 = 25.00 for each of the six decisions.
    assert fees.late_fee_minor == 6 * 2_500
    assert fees.charged_minor == 90_000
    # b: 360.00 + 25.00, e: 90.00 + 25.00 (high risk 500.00); others 75.00 + 25.00 each.
    # Low risk waives half of its charges: a and g, 100.00 each.
    assert fees.treatment_waived_minor == 2 * 5_000
    assert fees.by_segment == {
        "high_risk": {"charged_minor": 50_000, "waived_minor": 0},
        "low_risk": {"charged_minor": 20_000, "waived_minor": 10_000},
        "medium_risk": {"charged_minor": 20_000, "waived_minor": 0},
    }
    # Plans: each fee has one waiver source. a and g (low risk) had half their 100.00
    # waived by the treatment, so their plans waive nothing more; c's treatment waived
    # nothing, so its plan's waiver applies to its 100.00.
    assert plans["kept"].penalty_fees_minor == 0
    assert fees.plans == 4
    assert fees.plan_penalty_fees_minor == 10_000  # c only (h's offer was never accepted)
    assert fees.plan_waived_kept_minor == 0
    assert fees.plan_reinstated_minor == 0
    assert fees.plan_waived_active_minor == 5_000  # c-medium, provisional while active
    assert fees.waived_minor == 10_000
    assert fees.waived_minor <= fees.charged_minor
    assert fees.as_json()["charged"] == "900.00"
    assert fees.as_json()["waived"] == "100.00"


def test_plans_by_kind_and_status(reported) -> None:
    db, policy, _ = reported
    plans = overdue_report_figures(db, policy)["plans"]
    kinds = {p["kind"]: p for p in plans["by_kind"]}
    assert kinds["equal_principal"]["kept"] == 1
    assert kinds["equal_principal"]["declined"] == 1  # h-no-pd's offer expired unanswered
    assert kinds["deferral"]["broken"] == 1
    assert kinds["deferral"]["broken_rate"] == "1.000000"
    total = plans["total"]
    assert total["plans"] == 4
    assert (total["kept"], total["broken"]) == (1, 1)
    assert total["kept_rate"] == total["broken_rate"] == "0.500000"
    assert kinds["amortising"]["active"] == 1
    assert kinds["amortising"]["kept_rate"] is None  # no amortising plan has ended


def test_report_html_json_and_cli(reported, tmp_path: Path, overdue_store: str) -> None:
    db, policy, _ = reported
    out = tmp_path / "overdue.html"
    data = write_overdue_report(db, policy, out)
    html = out.read_text(encoding="utf-8")
    assert "迁徙率" in html
    assert "2005-08-31 → 2005-09-30" in html
    assert "900.00" in html
    assert "150.00" in html
    assert data["fees"]["charged"] == "900.00"
    assert policy_for_store(db).version == policy.version
    cli_out = tmp_path / "cli.html"
    result = CliRunner().invoke(
        app, ["overdue", "report", "--out", str(cli_out), "--database", overdue_store, "--json"]
    )
    assert result.exit_code == 0, result.output
    payload = envelope_data(result.stdout)
    assert payload["fees"]["charged"] == "900.00"
    assert payload["plans"]["total"]["kept_rate"] == "0.500000"
    assert cli_out.exists()


def test_fees_refuse_another_policy_version(reported) -> None:
    db, _, _ = reported
    twd = load_overdue_policy(
        Path(__file__).resolve().parents[2] / "src" / "cardpilot" / "policies" / "uci-twd"
    )
    with pytest.raises(OverdueReportError, match="pass --policy"):
        fee_totals(db, twd)


def test_the_demo_plans_step_keeps_some_plans_and_breaks_others(overdue_store: str, scorer) -> None:
    from cardpilot.cli.demo import _demo_plans
    from cardpilot.jobs.plans import plan_status

    policy = load_overdue_policy()
    treat_overdue(overdue_store, scorer, as_of=AS_OF, policy=policy)
    _demo_plans(overdue_store, AS_OF, policy)
    db = make_engine(overdue_store)
    try:
        status = {p.account_id: (p.kind, p.status) for p in plan_status(db)}
        fees = fee_totals(db, policy)
    finally:
        db.dispose()
    # Every eligible account gets a plan; the one with the highest PD (c-medium) breaks.
    assert status == {
        "a-low": ("deferral", "kept"),
        "g-cured": ("equal_principal", "kept"),
        "c-medium": ("equal_principal", "broken"),
        "h-no-pd": ("amortising", "kept"),
    }
    # a and g (low risk) had half their fees waived by the treatment: their plans waive no
    # more. Only h's plan (medium risk, no treatment waiver) waives half of its 100.00.
    assert fees.plan_waived_kept_minor == 5_000
    assert fees.plan_reinstated_minor == 5_000  # c-medium broke
    assert fees.waived_minor <= fees.charged_minor


def test_fees_read_the_stored_charges_and_derive_decisions_stored_before_0009(reported) -> None:
    """The figures are the stored amounts; decisions without them (stored before migration
    0009) are derived with ``assess_charges`` and give the same exact figures."""
    db, policy, _ = reported
    stored = fee_totals(db, policy)
    with db.begin() as conn:
        conn.execute(
            text(
                "UPDATE overdue_treatments SET penalty_interest_minor = NULL,"
                " late_fee_minor = NULL, fee_waived_minor = 0"
                " WHERE account_id IN ('a-low', 'b-deep')"
            )
        )
    mixed = fee_totals(db, policy)
    assert mixed == stored
    assert (stored.charged_minor, stored.treatment_waived_minor) == (90_000, 10_000)
