"""``cardpilot request``: a permanent increase decided now by the review's own decision (so a
second request right after a granted one meets the cooling guard), a temporary limit within the
product's grades, cap and months, expiring on its date; each stored, applied and audited."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from cardpilot.cli import app
from cardpilot.cli.output import envelope_data
from cardpilot.domain.money import to_minor
from cardpilot.store.audit import iter_records, verify_chain
from cardpilot.store.db import make_engine

from .conftest import UCI_MODEL

runner = CliRunner()
TODAY = "2026-11-15"
POLICY: list = []  # the calibrated policy folder, set by the autouse fixture


@pytest.fixture(autouse=True)
def _policy(calibrated_policy) -> None:  # type: ignore[no-untyped-def]
    POLICY[:] = [calibrated_policy]


def _q(url: str, sql: str, **params) -> list[tuple]:  # type: ignore[no-untyped-def]
    db = make_engine(url)
    try:
        with db.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql), params)]
    finally:
        db.dispose()


def _request(url: str, account: str, *args: str) -> dict:
    result = runner.invoke(
        app,
        ["request", "increase", account, "--model", str(UCI_MODEL), "--as-of", TODAY,
         "--database", url, "--policy", str(POLICY[0]), "--json", *args],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return dict(envelope_data(result.stdout))


def _accounts(url: str) -> list[tuple[str, int]]:
    return _q(url, "SELECT account_id, credit_limit_minor FROM accounts ORDER BY account_id")[:60]


def test_a_permanent_request_is_the_reviews_decision_now_and_cools_down(portfolio_store):
    granted = declined = 0
    for account, limit in _accounts(portfolio_store):
        out = _request(portfolio_store, account, "--kind", "permanent", "--amount",
                       str(limit * 3 // 100))  # fmt: skip
        (stored,) = _q(
            portfolio_store, "SELECT credit_limit_minor FROM accounts WHERE account_id = :a",
            a=account,
        )  # fmt: skip
        assert out["reason_codes"]
        if out["action"] == "declined":
            declined += 1
            assert stored[0] == limit
            continue
        granted += 1
        new_limit = to_minor(out["new_limit"])
        assert limit < new_limit <= limit * 3
        assert stored[0] == new_limit
        history = _q(
            portfolio_store,
            "SELECT old_limit_minor, new_limit_minor FROM limit_history"
            " WHERE account_id = :a AND source = 'request'",
            a=account,
        )
        assert history == [(limit, new_limit)]
        again = _request(portfolio_store, account, "--kind", "permanent", "--amount",
                         str(limit * 4 // 100))  # fmt: skip
        assert again["action"] == "declined"
        assert "KEEP_COOLING_PERIOD" in again["reason_codes"]
    assert granted > 0
    assert declined > 0
    db = make_engine(portfolio_store)
    try:
        _, broken = verify_chain(db)
        assert broken is None
        assert {r.action for r in iter_records(db)} >= {"request.decide"}
    finally:
        db.dispose()


def test_a_temporary_limit_is_granted_within_the_cap_and_expires_on_its_date(portfolio_store):
    done = False
    for account, limit in _accounts(portfolio_store):
        out = _request(portfolio_store, account, "--kind", "temporary", "--months", "2",
                       "--amount", str(limit // 4 // 100))  # fmt: skip
        if out["action"] != "granted":
            assert out["reason_codes"][0] == "PLAN_GRADE_NOT_ELIGIBLE"
            continue
        assert out["expires_on"] == "2027-01-15"
        (row,) = _q(
            portfolio_store,
            "SELECT credit_limit_minor, temp_limit_minor, temp_limit_expires_on FROM accounts"
            " WHERE account_id = :a",
            a=account,
        )
        assert row[0] == limit
        assert row[1] == to_minor(out["temporary_limit"]) <= limit // 4
        assert str(row[2])[:10] == "2027-01-15"
        result = runner.invoke(
            app, ["request", "expire", "--as-of", "2027-01-14", "--database", portfolio_store,
                  "--json"],
        )  # fmt: skip
        assert envelope_data(result.stdout)["expired"] == []
        result = runner.invoke(
            app, ["request", "expire", "--as-of", "2027-01-15", "--database", portfolio_store,
                  "--json"],
        )  # fmt: skip
        assert [e["account_id"] for e in envelope_data(result.stdout)["expired"]] == [account]
        (row,) = _q(
            portfolio_store,
            "SELECT temp_limit_minor, temp_limit_expires_on FROM accounts WHERE account_id = :a",
            a=account,
        )
        assert row == (None, None)
        events = _q(
            portfolio_store,
            "SELECT idempotency_key FROM ledger_postings WHERE account_id = :a"
            " AND kind = 'limit_change'",
            a=account,
        )
        assert {e[0] for e in events} == {
            f"request:{out['id']}:temporary",
            f"request:{out['id']}:expired",
        }
        told = _q(
            portfolio_store,
            "SELECT message_type, body_text FROM notify_outbox WHERE account_id = :a",
            a=account,
        )
        kinds = {t[0] for t in told}
        assert kinds == {"limit_request", "temporary_limit_end"}
        assert any("临时额度" in body for kind, body in told if kind == "temporary_limit_end")
        result = runner.invoke(
            app, ["request", "expire", "--as-of", "2027-02-01", "--database", portfolio_store,
                  "--json"],
        )  # fmt: skip
        assert envelope_data(result.stdout)["expired"] == []
        done = True
        break
    assert done


def test_a_temporary_limit_above_the_cap_or_too_long_is_declined_with_reasons(portfolio_store):
    account, limit = _accounts(portfolio_store)[0]
    out = _request(portfolio_store, account, "--kind", "temporary", "--months", "9",
                   "--amount", str(limit // 100))  # fmt: skip
    assert out["action"] == "declined"
    assert "PLAN_ABOVE_TEMPORARY_CAP" in out["reason_codes"]
    assert "REQ_PERIOD_TOO_LONG" in out["reason_codes"]
    assert dt.date.fromisoformat(out["as_of"]) == dt.date(2026, 11, 15)
