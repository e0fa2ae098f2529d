"""``Idempotency-Key`` on a PostgreSQL store: a policy published with a key and retried gets
the first answer (201, the same body) again, replayed, and publishes once; the key with another
request is refused."""

from __future__ import annotations

import uuid

import httpx
import pytest
from service_support import role_headers, start_service
from serving import running

from cardpilot.config import Settings
from cardpilot.policy.catalogue import policy_entries, shipped_dir
from cardpilot.service.idempotency import HEADER, REPLAYED_HEADER
from cardpilot.store.db import upgrade

pytestmark = pytest.mark.postgres
FILES = {
    f: (shipped_dir() / "default" / f).read_text(encoding="utf-8")
    for f in ("limits.yaml", "reasons.yaml")
}


def test_a_publication_retried_with_its_key_is_replayed_on_postgres(postgres_store_url, tmp_path):
    upgrade(postgres_store_url)
    settings = Settings(home=tmp_path, policy_dir=tmp_path / "policies")
    app, state = start_service(postgres_store_url, settings)
    name = f"idem-{uuid.uuid4().hex[:8]}"
    try:
        with running(app) as base:
            headers = {**role_headers(base, state)["strategy"], HEADER: uuid.uuid4().hex}
            publish = f"{base}/v1/policies"
            first = httpx.post(publish, headers=headers, json={"name": name, "files": FILES})
            again = httpx.post(publish, headers=headers, json={"name": name, "files": FILES})
            other = httpx.post(publish, headers=headers, json={"name": f"{name}-2", "files": FILES})
        assert first.status_code == again.status_code == 201, first.text
        assert again.content == first.content
        assert again.headers[REPLAYED_HEADER] == "true"
        assert other.status_code == 422
        assert [e.name for e in policy_entries(settings)].count(name) == 1
    finally:
        state.db.dispose()
