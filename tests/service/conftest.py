"""The service fixture: the service on a real loopback server over a seeded store, with a
user per staff role and an API key for the system role (``service_support``)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from routes_support import delete_streams
from service_support import Service, role_headers, seeded_store, start_service
from serving import running


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    from cardpilot.store.limit_decisions import read_decisions
    from cardpilot.store.review_runs import list_review_runs

    home = tmp_path_factory.mktemp("service")
    url, settings = seeded_store(home)
    app, state = start_service(url, settings)
    decided = read_decisions(state.db)
    account = str(decided["account_id"].sort()[0])
    run_id = int(list_review_runs(state.db)[0]["id"])
    with running(app) as base:
        headers = role_headers(base, state)
        yield Service(base, url, home, headers, account, run_id, state)
    delete_streams(state.broker)
    state.db.dispose()
