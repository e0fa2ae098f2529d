"""Overdue treatment and 和谐还款 plans together on the real UCI data (``uci-twd`` policy, the
frozen scorecard of tests/fixtures/models/uci-scorecard): the cases found by running them as a
bank would, month after month.

The scenario (one store, in order): import; treat as of 2005-10-01; offer accounts 10117 (low
risk: its treatment waived half of its 547.79 of penalty interest) and 10018 (medium risk:
366,577.00 overdue, no treatment waiver) a six-month plan on 2005-10-01, accepted the next
day; both pay their first two instalments a week early (2005-10-25, 2005-11-24); plans
advanced and the portfolio treated again on 2005-12-05; 10117 pays its third instalment,
10018 does not, and the plans are advanced on 2006-01-06; 10018 asks for a new plan on
2006-01-10, and again once the window of its first waiver has passed. Skipped when
../shared/data is absent.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from cardpilot.overdue.loading import load_overdue_policy

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data" / "uci_credit_card_default.csv"
POLICY = ROOT / "src" / "cardpilot" / "policies" / "uci-twd"
MODEL = ROOT / "tests" / "fixtures" / "models" / "uci-scorecard"
FIRST = dt.date(2005, 10, 1)
RETREAT = dt.date(2005, 12, 5)
BROKEN_ON = dt.date(2006, 1, 6)
PAID_EARLY = dt.timedelta(days=7)  # each instalment paid a week before it is due

pytestmark = [
    pytest.mark.realdata,
    pytest.mark.slow,
    pytest.mark.skipif(not DATA.exists(), reason=f"real data absent ({DATA})"),
]


def _pay(db: Any, account: str, when: dt.date, amount: int, tid: str) -> None:
    with db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO transactions (transaction_id, account_id, posted_at, kind,"
                " amount_minor, currency) VALUES (:t, :a, :p, 'payment', :m, 'TWD')"
            ),
            {
                "t": tid,
                "a": account,
                "p": dt.datetime.combine(when, dt.time(4), tzinfo=dt.UTC),
                "m": amount,
            },
        )


def _treatment(db: Any, account: str, as_of: dt.date) -> Any:
    with db.connect() as conn:
        return conn.execute(
            text(
                "SELECT risk_segment, overdue_balance_minor, penalty_interest_minor,"
                " late_fee_minor, fee_waived_minor, limit_action FROM overdue_treatments"
                " WHERE account_id = :a AND as_of = :d"
            ),
            {"a": account, "d": as_of},
        ).first()


def _pay_instalments(db: Any, plan: Any, count: int) -> int:
    paid = 0
    for n, inst in enumerate(plan.instalments[:count]):
        due = dt.date.fromisoformat(inst["due_date"])
        _pay(db, plan.account_id, due - PAID_EARLY, inst["amount_minor"], f"{plan.account_id}-T{n}")
        paid += inst["amount_minor"]
    return paid


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from cardpilot.config import Settings
    from cardpilot.jobs.importing import import_portfolio
    from cardpilot.jobs.overdue import treat_overdue
    from cardpilot.jobs.plans import (
        PlanStoreError,
        accept_plan,
        advance_plans,
        offer_plan,
        plan_status,
    )
    from cardpilot.scoring.registry import load_model_dir
    from cardpilot.store.db import make_engine

    home = tmp_path_factory.mktemp("uci-plans")
    url = f"sqlite:///{home / 'store.db'}"
    import_portfolio(DATA, layout="uci", database_url=url, settings=Settings(home=home))
    policy = load_overdue_policy(POLICY)
    model = load_model_dir(MODEL)
    treat_overdue(url, model, as_of=FIRST, policy=policy)
    db = make_engine(url)
    out: dict[str, Any] = {"db": db, "policy": policy}
    for account in ("10117", "10018"):
        plan = offer_plan(db, account, policy, on=FIRST, months=6)
        accept_plan(db, plan.plan_id, on=FIRST + dt.timedelta(days=1))
        out[f"paid-{account}"] = _pay_instalments(db, plan, 2)
        out[f"offer-{account}"] = plan
    advance_plans(db, RETREAT)
    out["active-on-retreat"] = {p.account_id: p.status for p in plan_status(db)}
    out["retreat"] = treat_overdue(url, model, as_of=RETREAT, policy=policy)
    third = out["offer-10117"].instalments[2]
    _pay(db, "10117", dt.date(2005, 12, 25), third["amount_minor"], "10117-T2")
    advance_plans(db, BROKEN_ON)
    out["after-break"] = {p.account_id: p for p in plan_status(db)}
    try:
        offer_plan(db, "10018", policy, on=dt.date(2006, 1, 10), months=6)
        out["reoffer-january"] = None
    except PlanStoreError as exc:
        out["reoffer-january"] = str(exc)
    out["reoffer-after-window"] = offer_plan(db, "10018", policy, on=dt.date(2006, 10, 25))
    from cardpilot.jobs.ledger import check_ledger

    out["ledger-check"] = check_ledger(db)
    yield out
    db.dispose()


def test_10117_fees_waived_by_its_treatment_are_not_waived_again_by_its_plan(
    scenario: dict[str, Any],
) -> None:
    """Was: 273.90 waived by the low-risk treatment and 273.90 by the plan, 547.80 in all
    on 547.79 charged."""
    t = _treatment(scenario["db"], "10117", FIRST)
    assert t.risk_segment == "low_risk"
    assert (t.penalty_interest_minor, t.late_fee_minor) == (54_779, 0)
    assert t.fee_waived_minor == 27_390
    plan = scenario["after-break"]["10117"]
    assert plan.status == "active"
    assert plan.penalty_fees_minor == 0  # no fee whose waiver source is the plan
    assert plan.waived_minor == 0
    assert t.fee_waived_minor + plan.waived_minor <= 54_779

    from cardpilot.reports.overdue_fees import fee_totals

    totals = fee_totals(scenario["db"], scenario["policy"])
    assert totals.waived_minor + totals.plan_waived_active_minor <= totals.charged_minor


def test_10117_plan_schedules_the_unwaived_half_of_its_penalty_fees(
    scenario: dict[str, Any],
) -> None:
    """Was: the 273.89 left unwaived appeared in no instalment."""
    from cardpilot.domain.plans import quote_plan

    plan = scenario["offer-10117"]
    terms = scenario["policy"].file.plans.equal_principal
    quote = quote_plan("equal_principal", plan.principal_minor, 6, terms.monthly_rate, FIRST)
    assert plan.principal_minor == 3_534_100
    assert plan.total_due_minor - quote.total_paid_minor == 54_779 - 27_390 == 27_389
    assert [i["amount_minor"] for i in plan.instalments] == [614_794] + [614_785] * 5
    assert plan.total_due_minor == 3_688_719


def test_10117_paying_its_plan_on_time_is_not_retreated_on_2005_12_05(
    scenario: dict[str, Any],
) -> None:
    """Was: re-treated as high risk, charged 2,035.64 of penalty interest on the original
    balance and frozen."""
    assert scenario["active-on-retreat"]["10117"] == "active"
    assert _treatment(scenario["db"], "10117", RETREAT) is None
    assert scenario["retreat"].on_plan == 2  # 10117 and 10018, both current then
    with scenario["db"].connect() as conn:
        status, limit = conn.execute(
            text("SELECT status, credit_limit_minor FROM accounts WHERE account_id = '10117'")
        ).one()
    assert (status, limit) == ("active", 11_000_000)
    assert scenario["retreat"].treated > 0  # the rest of the portfolio is treated as before


def test_10018_broken_plan_is_not_re_offered_a_fresh_waiver_in_january(
    scenario: dict[str, Any],
) -> None:
    """Was: broken on 2006-01-06 after paying 126,504.52, then offered and accepted a new
    plan on the old 366,577.00 with a fresh waiver on 2006-01-10 (the calendar year reset)."""
    broken = scenario["after-break"]["10018"]
    assert broken.status == "broken"
    assert broken.status_on == BROKEN_ON
    assert broken.reinstated_minor == 284_097  # half of 5,681.94, charged back
    assert scenario["reoffer-january"] is not None
    assert "HARMONY_WAIVER_USED_IN_PERIOD" in scenario["reoffer-january"]


def test_10018_re_offer_after_the_window_is_priced_on_the_current_balance(
    scenario: dict[str, Any],
) -> None:
    first = scenario["offer-10018"]
    assert first.principal_minor == 36_657_700
    paid = scenario["paid-10018"]
    again = scenario["reoffer-after-window"]
    assert again.status == "offered"
    assert paid == 12_753_829  # two instalments of 63,769.18 / 63,769.11 with their fees
    assert again.principal_minor == 36_657_700 - paid == 23_903_871


def _postings(db: Any, account: str) -> dict[str, int]:
    from cardpilot.store.ledger import account_postings

    with db.connect() as conn:
        frame = account_postings(conn, account)
    keys = frame.filter(frame["source"] != "import")
    return dict(zip(keys["idempotency_key"], keys["amount_minor"], strict=True))


def test_the_plans_waivers_and_instalments_are_ledger_postings_and_the_ledger_checks_clean(
    scenario: dict[str, Any],
) -> None:
    """10117: its fee and the treatment's waiver, six instalments due, no plan waiver.
    10018: its fees, the plan's waiver of half (284,097) and its reinstatement on the break.
    ``ledger check`` finds no violation: waived ≤ charged for every fee."""
    p117 = _postings(scenario["db"], "10117")
    assert sum(v for k, v in p117.items() if ":waiver:" in k) == -27_390
    assert sum(v for k, v in p117.items() if ":due:" in k) == 3_688_719
    assert not any(k.startswith("HP-") and ":waiver:" in k for k in p117)
    p018 = _postings(scenario["db"], "10018")
    first = scenario["offer-10018"].plan_id
    assert sum(v for k, v in p018.items() if k.startswith(f"{first}:waiver:")) == -284_097
    assert sum(v for k, v in p018.items() if k.startswith(f"{first}:reinstated:")) == 284_097
    check = scenario["ledger-check"]
    assert check.violations == 0, check.examples
