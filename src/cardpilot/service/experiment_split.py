"""The champion/challenger test the service's limit decisions honour, as the review it splits
does (docs/experiments.md): an account's arm by ``domain.experiments`` (BLAKE2b keyed by the
test's name over the account id), decided by that arm's policy alone, the decision naming the
test and the arm.

The test is the newest running ``limits`` test that has started by the decision's day (a review
names its test; a service takes the one running). Which tests run is read from the store every
``CACHE_SECONDS`` per worker; a test's policies are loaded once, and refused as a review
refuses them when their files changed since the test was created (409).
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

from cardpilot.batch.experiment_arms import ExperimentError, limit_arms
from cardpilot.domain.experiments import Arms, arm_of
from cardpilot.policy.schema import Policy
from cardpilot.service.problems import ApiError
from cardpilot.service.state import ServiceState
from cardpilot.store.experiments import StoredExperiment, list_experiments

_RUNNING = "running_limit_tests"
_loaded: dict[tuple[Any, ...], Arms[Policy]] = {}
_loading = threading.Lock()


def _running(state: ServiceState) -> list[StoredExperiment]:
    """The running limits tests, newest first (re-read every ``CACHE_SECONDS``)."""
    held = state.cache.get(_RUNNING)
    if held is None:
        running = [
            t for t in list_experiments(state.db) if t.kind == "limits" and t.status == "running"
        ]
        held = (running,)
        state.cache.put(_RUNNING, held)
    found: list[StoredExperiment] = held[0]
    return found


def _arms(state: ServiceState, test: StoredExperiment) -> Arms[Policy]:
    key = (
        test.id,
        test.name,
        test.champion,
        test.challenger,
        test.champion_version,
        test.challenger_version,
        test.share_bp,
    )
    arms = _loaded.get(key)
    if arms is None:
        with _loading:
            arms = _loaded.get(key)
            if arms is None:
                try:
                    arms = limit_arms(state.db, test.name)
                except ExperimentError as exc:
                    raise ApiError(409, str(exc)) from None
                _loaded[key] = arms
    return arms


def running_arms(state: ServiceState, as_of: dt.date) -> Arms[Policy] | None:
    """The test that splits decisions made on ``as_of``; None: none does."""
    for test in _running(state):
        if test.start_on <= as_of:
            return _arms(state, test)
    return None


def arm_policy(
    state: ServiceState, account_id: str, as_of: dt.date
) -> tuple[Policy, dict[str, str | None]]:
    """The policy that decides the account on ``as_of`` and the decision's ``experiment`` and
    ``arm`` (both None outside a test)."""
    arms = running_arms(state, as_of)
    if arms is None:
        return state.policy, {"experiment": None, "arm": None}
    arm = arm_of(account_id, arms.name, arms.share_bp)
    return arms.policy(arm), {"experiment": arms.name, "arm": arm}
