"""Human review of a limit decision (PIPL art. 24) on SQLite and PostgreSQL: open a case,
override with a reason, the next review respects the override, audit and notice rows present."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from cardpilot.audit.chain import digest_text
from cardpilot.cli import app
from cardpilot.cli.output import envelope_data
from cardpilot.domain.money import format_major
from cardpilot.jobs.review import review_portfolio
from cardpilot.store.audit import iter_records, verify_chain
from cardpilot.store.cases import accounts_on_hold
from cardpilot.store.db import make_engine
from cardpilot.store.limit_decisions import read_decisions
from cardpilot.store.models import Account
from cardpilot.store.notify_models import OutboxMessage

runner = CliRunner()
FIRST, NEXT = dt.date(2026, 5, 1), dt.date(2026, 11, 1)


def _cli(*args: str) -> dict:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return envelope_data(result.stdout)


def _reviewed_account(url: str, scorer) -> tuple[str, int]:
    """Review as of FIRST; an account it decreased, and that account's new limit."""
    result = review_portfolio(url, scorer, as_of=FIRST)
    db = make_engine(url)
    try:
        decisions = read_decisions(db, result.cycle_id)
    finally:
        db.dispose()
    row = decisions.filter(decisions["action"] == "decrease").row(0, named=True)
    return row["account_id"], int(row["new_limit_minor"])


def _outbox(url: str, ref: str) -> list[tuple[str, str, str]]:
    db = make_engine(url)
    try:
        with db.connect() as conn:
            query = select(
                OutboxMessage.message_type, OutboxMessage.channel, OutboxMessage.body_text
            ).where(OutboxMessage.decision_ref == ref)
            return [tuple(r) for r in conn.execute(query)]
    finally:
        db.dispose()


def test_an_override_is_stored_audited_notified_and_held_by_the_next_review(loaded_store, scorer):
    account, limit = _reviewed_account(loaded_store, scorer)
    opened = _cli(
        "cases", "open", account, "--reason", "客户来电申请人工复核", "--database", loaded_store
    )
    assert opened["status"] == "open"
    assert opened["requested_by"] == "customer"
    new_limit = limit + 500_000  # 5,000 yuan more than the review left
    decided = _cli(
        "cases", "decide", str(opened["id"]), "--outcome", "override",
        "--new-limit", str(new_limit // 100), "--reason", "收入证明已核实，恢复原额度",
        "--database", loaded_store,
    )  # fmt: skip
    assert decided["outcome"] == "override"
    assert decided["new_limit"] == format_major(new_limit)
    assert decided["currency"] == "CNY"
    hold_until = dt.date.fromisoformat(decided["hold_until"])
    assert hold_until > dt.datetime.now(dt.UTC).date()

    db = make_engine(loaded_store)
    try:
        stored = read_decisions(db).filter(read_decisions(db)["account_id"] == account)
        case_row = stored.filter(stored["cycle_id"] == f"case-{opened['id']}").row(0, named=True)
        assert case_row["decision_id"] == decided["override_decision_id"]
        assert case_row["new_limit_minor"] == new_limit
        assert case_row["action"] == "increase"
        assert case_row["reason_codes"] == ["CASE_OVERRIDE"]
        with db.connect() as conn:
            current = conn.scalar(
                select(Account.credit_limit_minor).where(Account.account_id == account)
            )
        assert current == new_limit
        records = list(iter_records(db))
        assert [r.action for r in records[-2:]] == ["case.open", "case.decide"]
        # The append-only log keeps the analyst's free text by its digest only.
        assert "收入证明" not in records[-1].payload
        reason = json.loads(records[-1].payload)["decision_reason"]
        assert reason == {"sha256": digest_text("收入证明已核实，恢复原额度")}
    finally:
        db.dispose()
    notices = _outbox(loaded_store, f"review_case:{opened['id']}")
    assert {t for t, _, _ in notices} == {"case_outcome"}
    assert any("人工复核" in body or "human review" in body for _, _, body in notices)

    # The next cycle's review leaves the account alone while the override holds.
    again = review_portfolio(loaded_store, scorer, as_of=NEXT)
    # Held by the override, or (the override being dated today, after every statement of the
    # test portfolio) left for want of a statement newer than the override.
    assert again.held + again.skipped_no_new_evidence >= 1
    db = make_engine(loaded_store)
    try:
        later = read_decisions(db, again.cycle_id)
        assert account not in later["account_id"].to_list()
        assert later.height > 0
        with db.connect() as conn:
            kept = conn.scalar(
                select(Account.credit_limit_minor).where(Account.account_id == account)
            )
        assert kept == new_limit
        assert verify_chain(db)[1] is None
    finally:
        db.dispose()
    verified = runner.invoke(app, ["audit", "verify", "--database", loaded_store])
    assert verified.exit_code == 0, verified.output


def test_an_upheld_case_changes_no_limit_and_tells_the_customer(loaded_store, scorer):
    account, limit = _reviewed_account(loaded_store, scorer)
    case = _cli("cases", "open", account, "--reason", "analyst check", "--requested-by",
                "analyst", "--database", loaded_store)  # fmt: skip
    reason = "the repayment record supports the decrease"
    decided = _cli("cases", "decide", str(case["id"]), "--outcome", "uphold", "--reason",
                   reason, "--database", loaded_store)  # fmt: skip
    assert decided["outcome"] == "uphold"
    assert decided["hold_until"] is None
    assert decided["override_decision_id"] is None
    assert _outbox(loaded_store, f"review_case:{case['id']}")
    listed = _cli("cases", "list", "--status", "decided", "--database", loaded_store)
    assert [c["id"] for c in listed["cases"]] == [case["id"]]
    assert _cli("cases", "list", "--status", "open", "--database", loaded_store)["cases"] == []
    db = make_engine(loaded_store)
    try:
        with db.connect() as conn:
            current = conn.scalar(
                select(Account.credit_limit_minor).where(Account.account_id == account)
            )
        assert current == limit
    finally:
        db.dispose()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--outcome", "override"], "--new-limit is required"),
        (["--outcome", "uphold", "--new-limit", "100"], "--new-limit is required"),
        (["--outcome", "maybe"], "--outcome 'maybe'"),
        (["--outcome", "override", "--new-limit", "abc"], "--new-limit 'abc'"),
    ],
)
def test_decide_refuses_what_it_cannot_record(loaded_store, scorer, extra, message):
    account, _ = _reviewed_account(loaded_store, scorer)
    case = _cli("cases", "open", account, "--reason", "r", "--database", loaded_store)
    done = runner.invoke(
        app, ["cases", "decide", str(case["id"]), "--reason", "r", *extra,
              "--database", loaded_store],
    )  # fmt: skip
    assert done.exit_code == 2
    assert message in " ".join(done.output.split())


def test_cases_open_needs_a_decision_to_review(loaded_store):
    db = make_engine(loaded_store)
    try:
        with db.connect() as conn:
            account = conn.scalar(select(Account.account_id).limit(1))
    finally:
        db.dispose()
    done = runner.invoke(
        app, ["cases", "open", account, "--reason", "r", "--database", loaded_store]
    )
    assert done.exit_code == 2
    assert "no limit decision" in done.output


def test_an_override_holds_only_until_its_hold_ends(loaded_store, scorer):
    account, limit = _reviewed_account(loaded_store, scorer)
    case = _cli("cases", "open", account, "--reason", "r", "--database", loaded_store)
    new_limit = str(limit // 100 + 1000)
    decided = _cli("cases", "decide", str(case["id"]), "--outcome", "override", "--new-limit",
                   new_limit, "--reason", "r", "--database", loaded_store)  # fmt: skip
    hold_until = dt.date.fromisoformat(decided["hold_until"])
    day_after = hold_until + dt.timedelta(days=1)
    db = make_engine(loaded_store)
    try:
        assert account in accounts_on_hold(db, hold_until - dt.timedelta(days=1))
        assert account not in accounts_on_hold(db, hold_until)
    finally:
        db.dispose()
    after = review_portfolio(loaded_store, scorer, as_of=day_after)
    assert after.held == 0
