"""The account over time: the seven cases found by running the real UCI data as a bank runs
cardpilot across cycles (commit 38c6f40, ``uci-twd`` policy), each with its figures now.

The scenarios are the conftest's: ``review_cycles`` (two reviews with no statement between
them), ``plans_scenario`` (treatment, 和谐还款 plans kept and broken, a re-treatment),
``uci_store_copy`` (reminders around the September statement's due date) and
``watch_scenario`` (a review whose increases are watched, then the watch check). Skipped
when ../shared/data is absent.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
import pytest
from sqlalchemy import text
from uci_scenarios import BROKEN_ON, FIRST, RETREAT, SHIPPED_POLICY, pay, treatment_of

pytestmark = [pytest.mark.realdata, pytest.mark.slow]

SEPTEMBER = dt.date(2005, 9, 30)


def _ledger(db: Any, account: str) -> pl.DataFrame:
    from cardpilot.store.ledger import account_postings

    with db.connect() as conn:
        return account_postings(conn, account)


def test_case_1_a_second_review_with_no_new_statement_cuts_nothing(
    review_cycles: dict[str, Any],
) -> None:
    """Was: 6,974 accounts cut again on the same evidence (account 1: 20,000 → 10,000 →
    5,000)."""
    again = review_cycles["again"]
    assert again["cycle_id"] == "2006-H1"
    assert again["decided"] == 0
    assert again["skipped_no_new_evidence"] == 30_000
    assert again["skipped_within_cycle"] == 0
    # Only the first run's decreases, their notice period over, took effect (applied before
    # the run read any account); nothing was decided.
    decreases = review_cycles["first"]["by_action"]["decrease"]
    assert again["pending_applied"] == decreases
    assert review_cycles["history_after_again"] == review_cycles["history_after_first"] + decreases
    first = review_cycles["decisions"].filter(
        (pl.col("cycle_id") == "2005-H2") & (pl.col("account_id") == "1")
    )
    assert first.select("old_limit_minor", "new_limit_minor").row(0) == (2_000_000, 1_000_000)


def test_case_2_account_10117_is_waived_no_more_than_it_was_charged(
    plans_scenario: dict[str, Any],
) -> None:
    """Was: 273.90 waived by the low-risk treatment and 273.90 by the plan, 547.80 in all on
    547.79 charged, and the overdue report added both."""
    from cardpilot.reports.overdue_fees import fee_totals

    db = plans_scenario["db"]
    t = treatment_of(db, "10117", FIRST)
    assert t.risk_segment == "low_risk"
    assert (t.penalty_interest_minor, t.late_fee_minor, t.fee_waived_minor) == (54_779, 0, 27_390)
    plan = plans_scenario["after-break"]["10117"]
    assert (plan.status, plan.penalty_fees_minor, plan.waived_minor) == ("active", 0, 0)
    postings = _ledger(db, "10117")
    fee_key = f"treat:{t.id}:penalty_interest"
    charged = postings.filter(pl.col("idempotency_key") == fee_key)["amount_minor"].sum()
    waived = -postings.filter(pl.col("reference") == fee_key)["amount_minor"].sum()
    assert (charged, waived) == (54_779, 27_390)
    totals = fee_totals(db, plans_scenario["policy"])
    assert totals.waived_minor + totals.plan_waived_active_minor <= totals.charged_minor
    assert plans_scenario["ledger-check"].by_invariant["waived_over_charged"] == 0


def test_case_3_an_account_paying_its_plan_is_not_retreated_penalised_or_frozen(
    plans_scenario: dict[str, Any],
) -> None:
    """Was: 10117, paying its plan on time, re-treated as high risk on 2005-12-05, charged
    2,035.64 of penalty interest on the original balance and frozen."""
    db = plans_scenario["db"]
    assert plans_scenario["active-on-retreat"]["10117"] == "active"
    assert treatment_of(db, "10117", RETREAT) is None
    assert plans_scenario["retreat"].on_plan == 2  # 10117 and 10018, both current then
    assert plans_scenario["retreat"].treated > 0  # the rest of the portfolio is treated
    with db.connect() as conn:
        status, limit = conn.execute(
            text("SELECT status, credit_limit_minor FROM accounts WHERE account_id = '10117'")
        ).one()
    assert (status, limit) == ("active", 11_000_000)
    since_plan = _ledger(db, "10117").filter(
        (pl.col("effective_on") > FIRST) & (pl.col("source") == "decision")
    )
    assert since_plan.height == 0  # no penalty, no 违约金, no freeze posted after the plan


def test_case_4_account_10018s_re_offer_within_the_window_gets_no_fresh_waiver_and_is_priced_on_the_current_balance(  # noqa: E501
    plans_scenario: dict[str, Any],
) -> None:
    """Was: broken on 2006-01-06 after paying 126,504.52, then four days later offered and
    accepted a new plan on the old principal of 366,577 with a fresh waiver (the
    once-per-period rule reset on the calendar year)."""
    assert plans_scenario["policy"].file.harmony.period_months == 12  # the rolling window
    broken = plans_scenario["after-break"]["10018"]
    assert (broken.status, broken.status_on) == ("broken", BROKEN_ON)
    assert broken.reinstated_minor == 284_097  # the plan's half of 5,681.94, charged back
    assert "HARMONY_WAIVER_USED_IN_PERIOD" in (plans_scenario["reoffer-january"] or "")
    first = plans_scenario["offer-10018"]
    paid = plans_scenario["paid-10018"]
    again = plans_scenario["reoffer-after-window"]
    assert first.principal_minor == 36_657_700
    assert paid == 12_753_829  # two instalments of 63,769.18 / 63,769.11 with their fees
    assert again.status == "offered"
    assert again.principal_minor == 36_657_700 - paid == 23_903_871


def test_case_5_the_unwaived_fees_are_in_the_instalments(
    plans_scenario: dict[str, Any],
) -> None:
    """Was: the 273.89 of 10117's penalty fees left unwaived appeared in no instalment."""
    from cardpilot.domain.plans import quote_plan

    plan = plans_scenario["offer-10117"]
    terms = plans_scenario["policy"].file.plans.equal_principal
    quote = quote_plan("equal_principal", plan.principal_minor, 6, terms.monthly_rate, FIRST)
    assert plan.principal_minor == 3_534_100
    assert plan.total_due_minor - quote.total_paid_minor == 54_779 - 27_390 == 27_389
    assert [i["amount_minor"] for i in plan.instalments] == [614_794] + [614_785] * 5
    assert plan.total_due_minor == 3_688_719
    due = _ledger(plans_scenario["db"], "10117").filter(pl.col("kind") == "instalment_due")
    assert due["amount_minor"].sum() == 3_688_719


def test_case_6_no_missed_payment_message_without_ledger_evidence_and_wording_matches_days_past_due(
    uci_store_copy: Any,
) -> None:
    """Was: 27,402 customers told "first day overdue" on 2005-10-21 with no payment data, and
    an account 61 days past due told to pay before the due date to avoid an overdue record."""
    from cardpilot.jobs.reminders import send_reminders
    from cardpilot.overdue.loading import load_overdue_policy
    from cardpilot.store.db import make_engine

    url, _home = uci_store_copy("uci-case-6")
    policy = load_overdue_policy(SHIPPED_POLICY)
    before = send_reminders(url, as_of=dt.date(2005, 10, 15), policy=policy)
    after_due = send_reminders(url, as_of=dt.date(2005, 10, 21), policy=policy)
    # The ledger's payment data (PAY_AMT) ends with September: nobody is known to have missed
    # the minimum due on 2005-10-20.
    assert after_due.payments_known_through == SEPTEMBER
    assert after_due.by_rule.get("first_day_overdue", 0) == 0
    assert before.by_rule == {"before_due_5": 22_273}
    engine = make_engine(url)
    try:
        # 5,129 of the 27,402 positive September balances are past due (PAY_0 ≥ 1): "pay
        # before the due date to avoid an overdue record" would be false for them, and none
        # is told so.
        assert _count(engine, PAST_DUE_TOLD_BEFORE_DUE) == 0
        # With ledger evidence (a payment feed that reaches the due date: one customer's
        # payment of the whole balance on 2005-10-20), the others not past due are told the
        # next day, and the payer is not.
        with engine.connect() as conn:
            payer, balance = conn.execute(text(FIRST_CURRENT_BALANCE)).one()
        pay(engine, payer, dt.date(2005, 10, 20), int(balance), "case-6-payment")
        evidence = send_reminders(url, as_of=dt.date(2005, 10, 21), policy=policy)
        assert evidence.payments_known_through == dt.date(2005, 10, 20)
        assert evidence.by_rule == {"first_day_overdue": 22_273 - 1}
        assert _count(engine, FIRST_DAY_TOLD, {"a": payer}) == 0
    finally:
        engine.dispose()


PAST_DUE_TOLD_BEFORE_DUE = (
    "SELECT COUNT(*) FROM notify_outbox o JOIN statements s"
    " ON s.account_id = o.account_id AND s.cycle_date = '2005-09-30'"
    " WHERE o.decision_ref LIKE 'reminder:before_due_%' AND s.days_past_due > 0"
)
FIRST_CURRENT_BALANCE = (
    "SELECT account_id, statement_balance_minor FROM statements WHERE cycle_date = '2005-09-30'"
    " AND days_past_due = 0 AND statement_balance_minor > 0 ORDER BY account_id LIMIT 1"
)
FIRST_DAY_TOLD = (
    "SELECT COUNT(*) FROM notify_outbox WHERE account_id = :a"
    " AND decision_ref LIKE 'reminder:first_day_overdue:%'"
)


def _count(engine: Any, sql: str, params: dict[str, Any] | None = None) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql), params or {}).scalar_one())


def test_case_7_watch_flags_produce_their_policy_actions(watch_scenario: dict[str, Any]) -> None:
    """Was: watch flags raised after large increases were listed and nothing followed."""
    actions = watch_scenario["actions"]
    mapping = watch_scenario["policy"].limits.watch_actions.by_rule()
    assert watch_scenario["review"].decided == 30_000
    assert watch_scenario["added"] == actions.height > 0
    assert watch_scenario["again"] == 0  # checking again adds no flag and no action
    assert (actions["action"] == actions["rule"].replace_strict(mapping)).all()
    counts = dict(actions.group_by("action").len().iter_rows())
    # 4,900 flags on the July–September statements of the accounts increased on 2005-07-01;
    # no cash-advance surge (the UCI file has no cash advances), so no analyst case.
    assert counts == {"early_review": 790, "hold_increases": 2_289, "notice": 1_821}
    # Each notice action is queued through the outbox like a decision's notice (in-app: the
    # UCI file has no phone or e-mail).
    assert watch_scenario["watch_notices"] == counts["notice"]
