"""``send_reminders`` / ``cardpilot overdue remind`` over a store (SQLite and PostgreSQL):
messages queued through the outbox once per day, payments stop a reminder, the treatment path
follows the stored segment, education only with an opt-in, the policy version recorded."""

from __future__ import annotations

import datetime as dt

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from typer.testing import CliRunner

from cardpilot.cli import app
from cardpilot.cli.output import envelope_data
from cardpilot.jobs.overdue import treat_overdue
from cardpilot.jobs.reminders import RemindError, record_opt_ins, send_reminders
from cardpilot.overdue.loading import load_overdue_policy
from cardpilot.overdue.reminders import minimum_payment_cost
from cardpilot.store.db import make_engine, unit_of_work, upgrade
from cardpilot.store.models import Base, Transaction
from cardpilot.store.notify_models import ContactPreference

from .conftest import AS_OF, BALANCE

POLICY = load_overdue_policy()
DUE = AS_OF + dt.timedelta(days=20)  # 2005-10-20, the September statement's due date
NOT_PAST_DUE = {"d-current"}  # the only active account whose September statement is current


def _rows(url: str, sql: str, **params: object) -> list[tuple]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql), params).all()]
    finally:
        engine.dispose()


def _reminders(url: str) -> list[tuple]:
    return _rows(
        url,
        "SELECT account_id, message_type, channel, decision_ref, policy_version, body_text,"
        " category FROM notify_outbox WHERE decision_ref LIKE 'reminder:%' ORDER BY id",
    )


def test_migration_matches_the_opt_in_model(store_url: str) -> None:
    import cardpilot.store.overdue_models  # noqa: F401

    def only_ours(obj: object, name: str | None, type_: str, *_: object) -> bool:
        table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
        return table is None or table == "contact_opt_ins"

    upgrade(store_url)
    engine = make_engine(store_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"include_object": only_ours})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


def test_before_due_reminders_are_queued_once_and_a_rerun_queues_nothing(
    overdue_store: str,
) -> None:
    day = DUE - dt.timedelta(days=5)
    first = send_reminders(overdue_store, as_of=day)
    # Every active account has 500.00 of its minimum unpaid, but only the one not already past
    # due is told to pay before the due date (closed ones get nothing; the others are on the
    # treatment path, where "to avoid an overdue record" would be false).
    assert first.by_rule == {"before_due_5": len(NOT_PAST_DUE)}
    assert first.queued == len(NOT_PAST_DUE)  # channel app only (before_due_5)
    rows = _reminders(overdue_store)
    assert {r[0] for r in rows} == NOT_PAST_DUE
    assert {(r[1], r[2], r[4], r[6]) for r in rows} == {
        ("payment_due_reminder", "app", POLICY.version, "service")
    }
    body = next(r[5] for r in rows if r[0] == "d-current")
    assert "人民币500.00元" in body
    assert "2005年10月20日" in body
    assert "还有5天" in body
    assert "人民币5000.00元" in body  # the statement balance, to pay in full
    again = send_reminders(overdue_store, as_of=day)
    assert (again.queued, again.already_queued) == (0, len(NOT_PAST_DUE))
    assert len(_reminders(overdue_store)) == len(NOT_PAST_DUE)


def _pay(url: str, account: str, at: dt.datetime, amount_minor: int) -> None:
    engine = make_engine(url)
    with unit_of_work(engine) as s:
        s.add(
            Transaction(
                transaction_id=f"pay-{account}",
                account_id=account,
                posted_at=at,
                kind="payment",
                amount_minor=amount_minor,
                currency="CNY",
            )
        )
    engine.dispose()


def test_a_payment_of_the_minimum_stops_the_reminder(overdue_store: str) -> None:
    # 2005-10-10 00:30 in Shanghai is still 10-09 in UTC: the local date counts.
    _pay(overdue_store, "d-current", dt.datetime(2005, 10, 9, 16, 30, tzinfo=dt.UTC), 50_000)
    result = send_reminders(overdue_store, as_of=DUE - dt.timedelta(days=1))
    assert "d-current" not in {r[0] for r in _reminders(overdue_store)}
    assert result.by_rule == {}


def test_first_day_overdue_waits_for_payment_data_that_reaches_the_due_date(
    overdue_store: str,
) -> None:
    # The store knows no payment at all: whether the minimum was paid by 10-20 is unknown.
    unknown = send_reminders(overdue_store, as_of=DUE + dt.timedelta(days=1))
    assert (unknown.by_rule, unknown.payments_known_through) == ({}, None)
    # A payment feed reaching the due date (someone's payment on it): d-current's is missed.
    _pay(overdue_store, "b-deep", dt.datetime(2005, 10, 20, 4, tzinfo=dt.UTC), 1)
    known = send_reminders(overdue_store, as_of=DUE + dt.timedelta(days=1))
    assert known.payments_known_through == DUE
    assert known.by_rule == {"first_day_overdue": 1}
    assert {r[0] for r in _reminders(overdue_store)} == {"d-current"}


def test_treatment_path_messages_follow_the_stored_segment(overdue_store: str, scorer) -> None:  # type: ignore[no-untyped-def]
    treat_overdue(overdue_store, scorer, as_of=AS_OF)
    # e-high-pd (high risk) is 30 days past due at the September cycle: 35 on October 5,
    # a weekly high-risk step (7, 14, … 35). The low and medium accounts (35 days too) have
    # no step that day.
    result = send_reminders(overdue_store, as_of=AS_OF + dt.timedelta(days=5))
    assert result.by_rule == {"path_high_weekly": 1}
    rows = _reminders(overdue_store)
    # Test customers have no phone or e-mail on file: only the in-app message is queued.
    assert [(r[0], r[1], r[2]) for r in rows] == [("e-high-pd", "overdue_followup", "app")]
    assert "已逾期35天" in rows[0][5]
    assert "日利率0.06%" in rows[0][5]
    assert rows[0][3] == "reminder:path_high_weekly:20051005:e-high-pd"


def test_education_goes_only_to_opted_in_customers_with_the_exact_figures(
    overdue_store: str,
) -> None:
    assert record_opt_ins(overdue_store, ["cust-a-low", "cust-c-medium"], source="test") == 2
    engine = make_engine(overdue_store)
    with unit_of_work(engine) as s:  # opted in, then out of education: nothing is sent
        s.add(ContactPreference(customer_id="cust-c-medium", education_opt_out=True))
    engine.dispose()
    result = send_reminders(overdue_store, as_of=AS_OF + dt.timedelta(days=1))
    assert result.by_rule == {"edu_minimum_payment": 2}
    assert result.not_sent == 1  # c-medium's opt-out wins
    rows = _reminders(overdue_store)
    assert [(r[0], r[1], r[2], r[6]) for r in rows] == [
        ("a-low", "education_minimum_payment", "app", "education_opt_in")
    ]
    reminders = POLICY.file.reminders
    assert reminders is not None
    cost = minimum_payment_cost(BALANCE, reminders.minimum_payment, reminders.revolving)
    assert cost.months is not None
    interest = f"{cost.total_interest_minor // 100}.{cost.total_interest_minor % 100:02d}"
    assert f"需要{cost.months}个月" in rows[0][5]
    assert f"人民币{interest}元" in rows[0][5]
    # Withdrawing the consent stops the next illustration.
    record_opt_ins(overdue_store, ["cust-a-low"], opted_in=False)
    later = send_reminders(overdue_store, as_of=AS_OF + dt.timedelta(days=1))
    assert later.queued == 0


def test_opt_in_for_an_unknown_customer_is_refused(overdue_store: str) -> None:
    with pytest.raises(RemindError, match="unknown customers: nobody"):
        record_opt_ins(overdue_store, ["nobody"])


def test_a_policy_in_another_currency_is_refused(overdue_store: str) -> None:
    from pathlib import Path

    import cardpilot

    twd = load_overdue_policy(Path(cardpilot.__file__).parent / "policies" / "uci-twd")
    with pytest.raises(RemindError, match="does not convert"):
        send_reminders(overdue_store, as_of=DUE, policy=twd)


def test_cli_remind_prints_json_and_a_rerun_queues_nothing(overdue_store: str) -> None:
    _pay(overdue_store, "b-deep", dt.datetime(2005, 10, 20, 4, tzinfo=dt.UTC), 1)
    runner = CliRunner()
    args = ["overdue", "remind", "--as-of", "2005-10-21", "--database", overdue_store, "--json"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    out = envelope_data(first.stdout)
    assert out["by_rule"] == {"first_day_overdue": len(NOT_PAST_DUE)}
    assert out["payments_known_through"] == "2005-10-20"
    assert out["queued"] == len(NOT_PAST_DUE)  # app only: no phone on file for sms
    second = envelope_data(runner.invoke(app, args).stdout)
    assert (second["queued"], second["already_queued"]) == (0, len(NOT_PAST_DUE))
    opt = runner.invoke(app, ["overdue", "opt-in", "cust-a-low", "--database", overdue_store])
    assert opt.exit_code == 0
    assert "recorded" in opt.stdout


def test_demo_reminders_prints_the_run_and_a_message(
    overdue_store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from cardpilot.cli.overdue import demo_reminders

    result = demo_reminders(overdue_store, AS_OF + dt.timedelta(days=1), opt_in=3)
    out = capsys.readouterr().out
    assert result.by_rule == {"edu_minimum_payment": 3}  # the first three customers
    assert "reminders · 2005-10-01" in out
    assert "education_minimum_payment (in-app)" in out
    assert "每月只还最低还款额" in out
