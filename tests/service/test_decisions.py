"""Deciding one account over HTTP: the preview writes nothing; a commit stores the decision as
the review would (decision, new limit, the customer's notice in the outbox, an audit record),
is idempotent within the cycle, and the review then leaves the account alone."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from service_support import MODEL, Service, role_headers, seeded_store, start_service
from serving import running
from sqlalchemy import text

from cardpilot.notify.reasons import statement_codes, statement_texts
from cardpilot.service import decisions
from cardpilot.store.audit import iter_records, verify_chain
from cardpilot.store.limit_decisions import read_decisions


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """A store imported but never reviewed."""
    home = tmp_path_factory.mktemp("fresh")
    url, settings = seeded_store(home, accounts=60, review=False)
    app, state = start_service(url, settings)
    from cardpilot.store.service_callers import list_users  # noqa: F401

    with state.db.connect() as conn:
        account = conn.execute(text("SELECT MIN(account_id) FROM accounts")).scalar_one()
    with running(app) as base:
        yield Service(base, url, home, role_headers(base, state), account, 0, state)
    state.db.dispose()


def _outbox(service: Service, account_id: str) -> int:
    with service.state.db.connect() as conn:
        return int(
            conn.execute(
                text("SELECT COUNT(*) FROM notify_outbox WHERE account_id = :a"), {"a": account_id}
            ).scalar_one()
        )


def test_a_preview_decides_and_writes_nothing(fresh):
    reply = httpx.post(
        f"{fresh.url}/v1/accounts/{fresh.account_id}/decision/preview",
        headers=fresh.headers["system"],
    )
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["committed"] is False
    assert body["decision"]["action"] in ("increase", "keep", "decrease")
    assert body["decision"]["reasons"]
    assert body["decision"]["reasons"][0]["zh"]
    assert read_decisions(fresh.state.db).height == 0


def test_a_commit_stores_the_previewed_decision_with_its_notice_and_audit_record(fresh):
    account = fresh.account_id
    url = f"{fresh.url}/v1/accounts/{account}"
    preview = httpx.post(f"{url}/decision/preview", headers=fresh.headers["system"]).json()
    reply = httpx.post(f"{url}/decisions", headers=fresh.headers["system"])
    assert reply.status_code == 201, reply.text
    committed = reply.json()["decision"]
    for key in ("action", "old_limit", "new_limit", "grade", "score", "reasons"):
        assert committed[key] == preview["decision"][key]
    stored = read_decisions(fresh.state.db)
    assert stored["account_id"].to_list() == [account]
    assert stored["new_limit_minor"][0] / 100 == float(committed["new_limit"].replace(",", ""))
    if committed["action"] != "keep":
        assert _outbox(fresh, account) == 1
    records = [r for r in iter_records(fresh.state.db) if r.action == "decision.commit"]
    assert records[-1].subject == f"account:{account}"
    assert records[-1].actor.startswith("key:")
    assert verify_chain(fresh.state.db)[1] is None


def test_a_second_commit_in_the_cycle_returns_the_stored_decision(fresh):
    url = f"{fresh.url}/v1/accounts/{fresh.account_id}/decisions"
    first = httpx.post(url, headers=fresh.headers["admin"])
    again = httpx.post(url, headers=fresh.headers["admin"])
    assert again.status_code == 200
    assert again.json()["committed"] is False
    assert first.json()["decision"]["new_limit"] == again.json()["decision"]["new_limit"]
    assert read_decisions(fresh.state.db).height == 1


def test_the_review_then_leaves_the_committed_account_alone(fresh):
    from cardpilot.jobs.review import review_portfolio
    from cardpilot.scoring.registry import load_model_dir

    httpx.post(
        f"{fresh.url}/v1/accounts/{fresh.account_id}/decisions", headers=fresh.headers["system"]
    )
    result = review_portfolio(fresh.database_url, load_model_dir(MODEL), notify=False)
    assert result.skipped_within_cycle >= 1
    stored = read_decisions(fresh.state.db)
    assert stored.filter(stored["account_id"] == fresh.account_id).height == 1


def test_an_unknown_account_is_a_404_problem(fresh):
    reply = httpx.post(f"{fresh.url}/v1/accounts/nope/decisions", headers=fresh.headers["system"])
    assert reply.status_code == 404
    assert reply.headers["content-type"] == "application/problem+json"


def test_scoring_one_account_gives_the_score_pd_and_reasons(fresh):
    reply = httpx.post(
        f"{fresh.url}/v1/accounts/{fresh.account_id}/score", headers=fresh.headers["system"]
    )
    body = reply.json()
    assert reply.status_code == 200
    assert body["score"] is not None
    assert 0 < float(body["pd"]) < 1


def test_a_decision_gives_the_texts_of_score_codes_the_scorecard_does_not_carry(fresh):
    """A model other than a scorecard names its reason codes as it scores: the decision gives
    their texts as the batch does, not the bare codes."""
    state = fresh.state
    day = state.default_as_of()
    code = next(c for c in statement_codes() if c not in state.score_texts())
    row = decisions.score_account(state, fresh.account_id, day).table.row(0, named=True)
    row |= {"reason_codes": [code], "positive_codes": [code]}
    decided = decisions.decide_row(state, row, day)
    assert code in decided["reason_codes"]
    at = decided["reason_codes"].index(code)
    assert decided["reason_texts_en"][at] == statement_texts(code)["en"]
    assert decided["reason_texts_zh"][at] == statement_texts(code)["zh-CN"]
