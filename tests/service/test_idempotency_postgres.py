"""``Idempotency-Key`` on a PostgreSQL store: a committed decision retried with its key gets
the first answer (201, the same body) again, replayed."""

from __future__ import annotations

import uuid

import httpx
import pytest
from service_support import role_headers, seeded_store, start_service
from serving import running
from sqlalchemy import text

from cardpilot.service.idempotency import HEADER, REPLAYED_HEADER

pytestmark = pytest.mark.postgres


def test_a_committed_decision_retried_with_its_key_is_replayed_on_postgres(
    postgres_store_url, tmp_path
):
    url, settings = seeded_store(tmp_path, accounts=30, review=False, url=postgres_store_url)
    app, state = start_service(url, settings)
    with state.db.connect() as conn:
        account = conn.execute(text("SELECT MIN(account_id) FROM accounts")).scalar_one()
    try:
        with running(app) as base:
            headers = {**role_headers(base, state)["system"], HEADER: uuid.uuid4().hex}
            commit = f"{base}/v1/accounts/{account}/decisions"
            first = httpx.post(commit, headers=headers, json={}, timeout=60)
            again = httpx.post(commit, headers=headers, json={}, timeout=60)
            other = httpx.post(commit, headers=headers, json={"as_of": None}, timeout=60)
        assert first.status_code == again.status_code == 201, first.text
        assert again.content == first.content
        assert again.headers[REPLAYED_HEADER] == "true"
        assert other.status_code == 422
    finally:
        state.db.dispose()
