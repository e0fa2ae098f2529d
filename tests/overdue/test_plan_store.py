"""和谐还款 plans through the store (SQLite and PostgreSQL): offer, accept, payments from stored
transactions or statements, kept and broken plans, replays and duplicate events."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text

from cardpilot.cli.output import envelope_data
from cardpilot.domain.plans import quote_plan, split_principal
from cardpilot.jobs.overdue import treat_overdue
from cardpilot.jobs.plans import (
    PlanStoreError,
    accept_plan,
    advance_plans,
    offer_plan,
    plan_event,
    plan_status,
)
from cardpilot.overdue.loading import load_overdue_policy
from cardpilot.store.db import make_engine
from cardpilot.store.overdue_treatments import read_treatments

from .conftest import AS_OF

OFFER_ON = dt.date(2005, 10, 1)
ACCEPT_ON = dt.date(2005, 10, 2)


@pytest.fixture
def treated(overdue_store: str, scorer) -> str:
    treat_overdue(overdue_store, scorer, as_of=AS_OF)
    return overdue_store


@pytest.fixture
def db(treated: str):
    engine = make_engine(treated)
    yield engine
    engine.dispose()


def _pay(db, account: str, when: dt.date, amount: int, tid: str, at: int = 4) -> None:
    """A payment posted at ``at`` o'clock UTC on ``when``."""
    with db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO transactions (transaction_id, account_id, posted_at, kind,"
                " amount_minor, currency) VALUES (:t, :a, :p, 'payment', :m, 'CNY')"
            ),
            {
                "t": tid,
                "a": account,
                "p": dt.datetime.combine(when, dt.time(at), tzinfo=dt.UTC),
                "m": amount,
            },
        )


def _offer(db, account: str = "a-low", months: int = 3):
    return offer_plan(db, account, load_overdue_policy(), on=OFFER_ON, months=months)


def test_a_plan_paid_in_full_is_kept_and_half_the_penalty_fees_stay_waived(db) -> None:
    plan = _offer(db, "c-medium")  # the medium segment's treatment waives nothing
    assert plan.status == "offered"
    assert plan.penalty_fees_minor > 0
    accept_plan(db, plan.plan_id, on=ACCEPT_ON)
    for n, inst in enumerate(plan.instalments):
        due = dt.date.fromisoformat(inst["due_date"])
        _pay(db, "c-medium", due - dt.timedelta(days=5), inst["amount_minor"], f"T{n}")
    advance_plans(db, dt.date(2005, 11, 1))
    assert plan_status(db, plan_id=plan.plan_id)[0].status == "active"
    advance_plans(db, dt.date(2006, 1, 10))
    kept = plan_status(db, plan_id=plan.plan_id)[0]
    assert kept.status == "kept"
    assert kept.status_reason == "HARMONY_ALL_INSTALMENTS_PAID"
    assert kept.waived_minor == (kept.penalty_fees_minor * 5_000 + 5_000) // 10_000
    assert kept.reinstated_minor == 0
    moves = [(e["kind"], e["to_status"], e["reason"]) for e in kept.events if e["to_status"]]
    assert moves == [
        ("offered", "offered", "HARMONY_OFFERED"),
        ("accepted", "accepted", "HARMONY_CUSTOMER_ACCEPTED"),
        ("payment", "active", "HARMONY_FIRST_PAYMENT"),
        ("payment", "kept", "HARMONY_ALL_INSTALMENTS_PAID"),
    ]


def test_fees_the_treatment_waived_are_not_waived_again_and_the_rest_is_scheduled(db) -> None:
    """a-low's treatment waived half its penalty fees: the plan's waiver does not apply to
    them again, and the other half is in the instalments beside the principal."""
    with db.connect() as conn:
        charged, waived = conn.execute(
            text(
                "SELECT penalty_interest_minor + late_fee_minor, fee_waived_minor"
                " FROM overdue_treatments WHERE account_id = 'a-low'"
            )
        ).one()
    assert 0 < waived < charged
    plan = _offer(db)
    assert plan.penalty_fees_minor == 0  # no fee left whose waiver source is the plan
    terms = load_overdue_policy().file.plans.equal_principal
    quote = quote_plan("equal_principal", plan.principal_minor, 3, terms.monthly_rate, OFFER_ON)
    assert plan.total_due_minor == quote.total_paid_minor + (charged - waived)
    # the unwaived fees are split like the principal, with no plan fee on them
    unwaived = split_principal(charged - waived, 3)
    assert [i["amount_minor"] for i in plan.instalments] == [
        p.total_minor + f for p, f in zip(quote.payments, unwaived, strict=True)
    ]
    accept_plan(db, plan.plan_id, on=ACCEPT_ON)
    _pay(db, "a-low", dt.date(2005, 10, 20), plan.instalments[0]["amount_minor"], "T0")
    advance_plans(db, dt.date(2005, 10, 21))
    active = plan_status(db, plan_id=plan.plan_id)[0]
    assert active.status == "active"
    assert active.waived_minor == 0
    assert waived + active.waived_minor <= charged


def test_a_missed_instalment_breaks_the_plan_reinstates_the_waiver_and_counts_as_broken(
    db, treated, scorer
) -> None:
    plan = _offer(db, "c-medium")
    accept_plan(db, plan.plan_id, on=ACCEPT_ON)
    first = plan.instalments[0]
    _pay(db, "c-medium", dt.date(2005, 10, 20), first["amount_minor"], "C1")
    advance_plans(db, dt.date(2005, 11, 15))
    active = plan_status(db, plan_id=plan.plan_id)[0]
    assert active.status == "active"
    assert active.waived_minor > 0
    second_due = dt.date.fromisoformat(plan.instalments[1]["due_date"])
    grace = load_overdue_policy().file.harmony.grace_days
    advance_plans(db, second_due + dt.timedelta(days=grace))
    assert plan_status(db, plan_id=plan.plan_id)[0].status == "active"  # still within grace
    advance_plans(db, second_due + dt.timedelta(days=grace + 1))
    broken = plan_status(db, plan_id=plan.plan_id)[0]
    assert broken.status == "broken"
    assert broken.status_reason == "HARMONY_INSTALMENT_MISSED"
    assert (broken.waived_minor, broken.reinstated_minor) == (0, active.waived_minor)
    # A payment after the break is not credited to the ended plan.
    _pay(db, "c-medium", second_due + dt.timedelta(days=10), 10_000, "C2")
    advance_plans(db, second_due + dt.timedelta(days=12))
    after = plan_status(db, plan_id=plan.plan_id)[0]
    assert after.paid_minor == broken.paid_minor
    assert "transaction:C2" not in {e["source"] for e in after.events}
    late = plan_event(
        db, plan.plan_id, "payment", on=second_due + dt.timedelta(days=10), amount_minor=10_000
    )
    assert (late.events[-1]["outcome"], late.events[-1]["reason"]) == (
        "rejected",
        "HARMONY_PLAN_ENDED",
    )
    assert late.paid_minor == broken.paid_minor
    # The account returns to its segment's treatment, with one broken promise on record.
    later = dt.date(2006, 1, 31)
    treat_overdue(treated, scorer, as_of=later)
    row = read_treatments(db, later).filter(account_id="c-medium").row(0, named=True)
    assert row["broken_promises"] == 1
    # And a new plan in the same period is refused: the period's waiver was used.
    with pytest.raises(PlanStoreError, match="HARMONY_WAIVER_USED_IN_PERIOD"):
        offer_plan(db, "c-medium", load_overdue_policy(), on=dt.date(2005, 12, 20), months=3)


def test_replaying_payments_and_duplicate_events_give_the_same_state(db) -> None:
    plan = _offer(db)
    accept_plan(db, plan.plan_id, on=ACCEPT_ON)
    accept_plan(db, plan.plan_id, on=ACCEPT_ON)  # the same acceptance again: one event
    first = plan.instalments[0]["amount_minor"]
    _pay(db, "a-low", dt.date(2005, 10, 25), first, "R1")
    once = advance_plans(db, dt.date(2005, 10, 31))
    state = plan_status(db, plan_id=plan.plan_id)[0]
    again = advance_plans(db, dt.date(2005, 10, 31))
    assert once.events_added == 2  # the payment and the day's close
    assert again.events_added == 0
    # The same payment recorded by hand with the id the job gave it: ignored.
    plan_event(
        db, plan.plan_id, "payment", on=dt.date(2005, 10, 25), amount_minor=first,
        event_id=f"{plan.plan_id}:txn:R1",
    )  # fmt: skip
    replayed = plan_status(db, plan_id=plan.plan_id)[0]
    assert replayed == state
    assert replayed.paid_minor == first
    assert sum(e["kind"] == "accepted" for e in replayed.events) == 1


def test_statement_payments_advance_a_plan_when_there_are_no_transactions(db) -> None:
    plan = _offer(db, "g-cured")
    accept_plan(db, plan.plan_id, on=ACCEPT_ON)
    with db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO statements (account_id, cycle_date, statement_balance_minor,"
                " amount_paid_minor, days_past_due) VALUES ('g-cured', :d, 0, :paid, 0)"
            ),
            {"d": dt.date(2005, 10, 31), "paid": plan.total_due_minor},
        )
    advance_plans(db, dt.date(2005, 11, 1))
    kept = plan_status(db, plan_id=plan.plan_id)[0]
    assert kept.status == "kept"
    assert kept.events[2]["source"] == "statement:g-cured:2005-10-31"


def test_an_unaccepted_offer_expires_and_uses_no_waiver(db) -> None:
    plan = _offer(db)
    valid = load_overdue_policy().file.harmony.offer_valid_days
    advance_plans(db, OFFER_ON + dt.timedelta(days=valid + 1))
    expired = plan_status(db, plan_id=plan.plan_id)[0]
    assert (expired.status, expired.status_reason) == ("declined", "HARMONY_OFFER_EXPIRED")
    again = offer_plan(db, "a-low", load_overdue_policy(), on=dt.date(2005, 11, 1), months=3)
    assert again.status == "offered"


def test_high_risk_and_untreated_accounts_are_never_offered_the_waiver(db) -> None:
    with pytest.raises(PlanStoreError, match="high_risk"):
        _offer(db, "b-deep")
    with pytest.raises(PlanStoreError, match="no overdue treatment"):
        _offer(db, "d-current")
    with db.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM repayment_plans")).scalar_one() == 0


def test_cli_offer_accept_status(treated: str) -> None:
    from typer.testing import CliRunner

    import cardpilot.cli.plan  # noqa: F401 - registers the commands
    from cardpilot.cli import app

    runner = CliRunner()
    base = ["--database", treated, "--json"]
    offered = runner.invoke(
        app, ["plan", "offer", "--account", "a-low", "--months", "3", "--on", "2005-10-01", *base]
    )
    assert offered.exit_code == 0, offered.output
    plan = envelope_data(offered.stdout)["plans"][0]
    assert plan["status"] == "offered"
    assert plan["waiver_share"] == "0.500000"  # a rate, as every rate in --json
    assert plan["currency"] == "CNY"
    assert all(i["amount"].count(".") == 1 for i in plan["instalments"])  # major units
    accepted = runner.invoke(
        app, ["plan", "accept", "--plan", plan["plan_id"], "--on", "2005-10-02", *base]
    )
    assert accepted.exit_code == 0, accepted.output
    status = runner.invoke(app, ["plan", "status", "--account", "a-low", *base])
    assert status.exit_code == 0, status.output
    shown = envelope_data(status.stdout)["plans"][0]
    assert shown["status"] == "accepted"
    assert [e["kind"] for e in shown["events"]] == ["offered", "accepted"]
    refused = runner.invoke(app, ["plan", "offer", "--account", "b-deep", *base])
    assert refused.exit_code == 2
    assert "high_risk" in refused.output


def test_a_payment_is_dated_in_the_issuers_time_zone(db) -> None:
    plan = _offer(db)
    accept_plan(db, plan.plan_id, on=ACCEPT_ON)
    # 2005-10-09 20:00 UTC is already 10 October in Shanghai, still the 9th in New York.
    _pay(db, "a-low", dt.date(2005, 10, 9), 100, "TZ1", at=20)

    def paid_on(zone: str) -> str:
        advance_plans(db, dt.date(2005, 10, 12), timezone=zone)
        events = plan_status(db, plan_id=plan.plan_id)[0].events
        return next(e["on"] for e in events if e["kind"] == "payment")

    assert paid_on("Asia/Shanghai") == "2005-10-10"
    with db.begin() as conn:
        conn.execute(text("DELETE FROM plan_events WHERE kind = 'payment'"))
    assert paid_on("America/New_York") == "2005-10-09"


def test_an_account_current_on_its_plan_is_left_to_the_plan_until_the_plan_breaks(
    db, treated: str, scorer
) -> None:
    plan = _offer(db, "c-medium")
    accept_plan(db, plan.plan_id, on=ACCEPT_ON)
    _pay(db, "c-medium", dt.date(2005, 10, 20), plan.instalments[0]["amount_minor"], "T0")
    advance_plans(db, dt.date(2005, 11, 5))
    assert plan_status(db, plan_id=plan.plan_id)[0].status == "active"
    current = treat_overdue(treated, scorer, as_of=dt.date(2005, 11, 5))
    assert current.on_plan == 1
    ids = set(read_treatments(db, dt.date(2005, 11, 5))["account_id"])
    assert "c-medium" not in ids  # no penalty interest on the planned principal, no freeze
    assert {"a-low", "e-high-pd"} <= ids
    # The second instalment (due 2005-12-01, 3 days' grace) is missed: the plan breaks and
    # the account is treated again, with the broken promise counted.
    advance_plans(db, dt.date(2005, 12, 10))
    assert plan_status(db, plan_id=plan.plan_id)[0].status == "broken"
    again = treat_overdue(treated, scorer, as_of=dt.date(2005, 12, 10))
    assert again.on_plan == 0
    stored = read_treatments(db, dt.date(2005, 12, 10))
    row = stored.filter(stored["account_id"] == "c-medium")
    assert row.height == 1
    assert row["broken_promises"][0] == 1


def test_each_new_plan_step_is_audited_once_with_who_took_it(db) -> None:
    from cardpilot.jobs.plans import decline_plan
    from cardpilot.store.audit import iter_records, verify_chain

    policy = load_overdue_policy()
    plan = offer_plan(db, "c-medium", policy, on=OFFER_ON, months=3, actor="user:li.na")
    offer_plan(db, "c-medium", policy, on=OFFER_ON, months=3, actor="user:li.na")  # the same
    accept_plan(db, plan.plan_id, on=ACCEPT_ON, actor="key:app", source="api")
    accept_plan(db, plan.plan_id, on=ACCEPT_ON, actor="key:app", source="api")  # the same
    decline_plan(db, plan.plan_id, on=ACCEPT_ON + dt.timedelta(days=1))  # refused: recorded
    records = [r.as_json() for r in iter_records(db)]
    steps = [r for r in records if r["subject"] == f"plan:{plan.plan_id}"]
    assert [(r["action"], r["actor"]) for r in steps[:2]] == [
        ("plan.offer", "user:li.na"),
        ("plan.accepted", "key:app"),
    ]
    assert steps[1]["payload"]["source"] == "api"
    assert steps[1]["before_digest"] != steps[1]["after_digest"]
    assert steps[2]["action"] == "plan.declined"
    assert steps[2]["payload"]["outcome"] == "rejected"
    assert steps[2]["before_digest"] == steps[2]["after_digest"]  # the plan did not change
    assert len(steps) == 3
    assert verify_chain(db)[1] is None


def test_a_decline_then_an_acceptance_on_one_day_folds_in_the_order_they_were_given(db) -> None:
    from cardpilot.jobs.plans import decline_plan

    plan = _offer(db)
    decline_plan(db, plan.plan_id, on=ACCEPT_ON)
    accept_plan(db, plan.plan_id, on=ACCEPT_ON)
    view = plan_status(db, plan_id=plan.plan_id)[0]
    assert view.status == "declined"
    steps = {e["kind"]: e["outcome"] for e in view.events if e["kind"] in ("accepted", "declined")}
    assert steps == {"declined": "transition", "accepted": "rejected"}
