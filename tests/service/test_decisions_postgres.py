"""The HTTP service on a PostgreSQL store: sign-in, the account story, a previewed and a
committed decision (written by the review's writer on SQLAlchemy, its notice and audit record),
readiness."""

from __future__ import annotations

import httpx
import pytest
from service_support import role_headers, seeded_store, start_service
from serving import running
from sqlalchemy import text

from cardpilot.store.audit import iter_records, verify_chain
from cardpilot.store.limit_decisions import read_decisions

pytestmark = pytest.mark.postgres


def test_a_postgres_store_serves_and_commits_one_decision(postgres_store_url, tmp_path):
    url, settings = seeded_store(tmp_path, accounts=40, review=False, url=postgres_store_url)
    app, state = start_service(url, settings)
    with state.db.connect() as conn:
        account = conn.execute(text("SELECT MIN(account_id) FROM accounts")).scalar_one()
    try:
        with running(app) as base:
            headers = role_headers(base, state)
            assert httpx.get(f"{base}/ready").json()["store"] == "postgresql"
            story = httpx.get(f"{base}/v1/accounts/{account}", headers=headers["agent"])
            assert story.status_code == 200, story.text
            preview = httpx.post(
                f"{base}/v1/accounts/{account}/decision/preview", headers=headers["system"]
            ).json()["decision"]
            reply = httpx.post(f"{base}/v1/accounts/{account}/decisions", headers=headers["system"])
            assert reply.status_code == 201, reply.text
            assert reply.json()["decision"]["new_limit"] == preview["new_limit"]
            again = httpx.post(f"{base}/v1/accounts/{account}/decisions", headers=headers["system"])
            assert again.status_code == 200
        stored = read_decisions(state.db)
        assert stored["account_id"].to_list() == [account]
        assert any(r.action == "decision.commit" for r in iter_records(state.db))
        assert verify_chain(state.db)[1] is None
    finally:
        state.db.dispose()
