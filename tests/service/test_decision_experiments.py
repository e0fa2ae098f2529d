"""A running champion/challenger test splits the API's single-account decisions as it splits
the review: for every account of a store, the arm and the decision the API previews equal the
arm and the decision the split review makes on the same data and versions, in both arms; a
committed decision is stored with its test and arm, as the review stores it. Before the test's
start, or after it stops, the service's own policy decides."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import httpx
import pytest
from service_support import (
    END_CYCLE,
    MODEL,
    api_decision_json,
    batch_decision_json,
    role_headers,
    seeded_store,
    start_service,
)
from serving import running
from sqlalchemy import text

from cardpilot.batch.experiment_arms import limit_arms
from cardpilot.config import Settings
from cardpilot.domain.experiments import CHALLENGER, CHAMPION, ExperimentSpec, arm_of
from cardpilot.jobs.experiments import create_experiment, stop
from cardpilot.jobs.review import review_portfolio
from cardpilot.scoring.registry import load_model_dir
from cardpilot.store.db import make_engine
from cardpilot.store.limit_decisions import read_decisions
from experiment_policies import challenger_policy

AS_OF = END_CYCLE + dt.timedelta(days=1)
TEST = "api-split"
SHARE_BP = 4_000
COMMITTED = 30


@pytest.fixture(scope="module")
def split_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Settings, Path]:
    """A store never reviewed, with a running limits test from ``AS_OF``; and a copy of it."""
    home = tmp_path_factory.mktemp("split")
    url, settings = seeded_store(home, accounts=150, review=False)
    spec = ExperimentSpec(
        name=TEST,
        kind="limits",
        champion="default",
        challenger=str(challenger_policy(home)),
        share_bp=SHARE_BP,
        start_on=AS_OF,
    )
    create_experiment(url, spec)
    shutil.copy(home / "store.db", home / "copy.db")
    return url, settings, home


def _post_each(
    url: str, settings: Settings, path: str, as_of: dt.date, accounts: list[str] | None = None
) -> dict[str, httpx.Response]:
    """``POST /v1/accounts/{id}/<path>`` for each account (default: every one of the store)
    on a service over ``url``; the replies by account."""
    app, state = start_service(url, settings)
    if accounts is None:
        with state.db.connect() as conn:
            accounts = [r[0] for r in conn.execute(text("SELECT account_id FROM accounts"))]
    out: dict[str, httpx.Response] = {}
    with running(app) as base:
        headers = role_headers(base, state)["system"]
        with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
            for account in accounts:
                body = {"as_of": as_of.isoformat()}
                out[account] = client.post(f"/v1/accounts/{account}/{path}", json=body)
    state.db.dispose()
    return out


def _previews(url: str, settings: Settings, as_of: dt.date) -> dict[str, dict]:
    """Every account's previewed decision (not those of a status the review leaves out)."""
    out: dict[str, dict] = {}
    for account, reply in _post_each(url, settings, "decision/preview", as_of).items():
        if reply.status_code != 409:  # 409: not of a reviewed status
            assert reply.status_code == 200, reply.text
            out[account] = reply.json()["decision"]
    return out


def _arms_stored(url: str) -> dict[str, tuple[str, str]]:
    db = make_engine(url)
    try:
        with db.connect() as conn:
            rows = conn.execute(text("SELECT account_id, experiment, arm FROM limit_decisions"))
            return {r[0]: (r[1], r[2]) for r in rows}
    finally:
        db.dispose()


def _review(url: str) -> dict[str, dict]:
    db = make_engine(url)
    arms = limit_arms(db, TEST)
    db.dispose()
    review_portfolio(url, load_model_dir(MODEL), as_of=AS_OF, notify=False, experiment=arms)
    db = make_engine(url)
    try:
        return {r["account_id"]: r for r in read_decisions(db).iter_rows(named=True)}
    finally:
        db.dispose()


def _copy(home: Path, tmp_path: Path, name: str) -> str:
    """A copy of the store as it was before any decision or caller."""
    shutil.copy(home / "copy.db", tmp_path / name)
    return f"sqlite:///{tmp_path / name}"


def test_the_api_splits_decisions_as_the_review_does_in_both_arms(split_store, tmp_path):
    url, settings, home = split_store
    api = _previews(url, settings, AS_OF)
    batch = _review(url)
    arms = _arms_stored(url)
    assert set(api) == set(batch)
    for account, decision in api.items():
        assert (decision["experiment"], decision["arm"]) == arms[account], account
        assert decision["arm"] == arm_of(account, TEST, SHARE_BP)
        assert api_decision_json(decision) == batch_decision_json(batch[account]), account
    by_arm = {arm: [a for a, d in api.items() if d["arm"] == arm] for arm in (CHAMPION, CHALLENGER)}
    assert all(len(accounts) > 10 for accounts in by_arm.values())
    versions = {arm: {api[a]["policy_version"] for a in by_arm[arm]} for arm in by_arm}
    assert versions[CHALLENGER].isdisjoint(versions[CHAMPION])

    _committed_with_their_arms(_copy(home, tmp_path, "commit.db"), settings, batch, arms)


def _committed_with_their_arms(
    url: str, settings: Settings, batch: dict[str, dict], arms: dict[str, tuple[str, str]]
) -> None:
    accounts = sorted(batch)[:COMMITTED]
    for account, reply in _post_each(url, settings, "decisions", AS_OF, accounts).items():
        assert reply.status_code == 201, reply.text
        assert reply.json()["decision"]["arm"] == arms[account][1]
    assert _arms_stored(url) == {a: arms[a] for a in accounts}
    db = make_engine(url)
    rows = {r["account_id"]: r for r in read_decisions(db).iter_rows(named=True)}
    db.dispose()
    for account in accounts:
        assert batch_decision_json(rows[account]) == batch_decision_json(batch[account]), account


def test_before_its_start_and_once_stopped_a_test_splits_nothing(split_store, tmp_path):
    _, settings, home = split_store
    before = _previews(_copy(home, tmp_path, "before.db"), settings, AS_OF - dt.timedelta(days=1))
    assert before
    assert {(d["experiment"], d["arm"]) for d in before.values()} == {(None, None)}
    stopped = _copy(home, tmp_path, "stopped.db")
    db = make_engine(stopped)
    stop(db, TEST)
    db.dispose()
    after = _previews(stopped, settings, AS_OF)
    assert {(d["experiment"], d["arm"]) for d in after.values()} == {(None, None)}
    assert {d["policy_version"] for d in after.values()} == {
        d["policy_version"] for d in before.values()
    }
