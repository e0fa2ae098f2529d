"""A champion/challenger test's policies, loaded for the run it splits: the review (limit
policies) or the overdue treatment (overdue policies). A test splits a run only while it is
running; its policies are named as ``--policy`` names them (a name or a path)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from cardpilot.config import get_settings
from cardpilot.domain.experiments import Arms
from cardpilot.overdue.loading import load_overdue_policy
from cardpilot.overdue.schema import OverduePolicy
from cardpilot.policy.catalogue import LIMITS, OVERDUE, UnknownPolicyError, resolve_policy
from cardpilot.policy.loading import PolicyError, load_policy
from cardpilot.policy.schema import Policy
from cardpilot.store.experiments import StoredExperiment, read_experiment

_FILES = {"limits": LIMITS, "overdue": OVERDUE}


class ExperimentError(ValueError):
    """A test cannot split the run as asked: says what is wrong and what to do."""


def policy_file(spec: str, kind: str) -> Path | None:
    """Where a test's policy (a name or a path) is: its folder or file."""
    try:
        return resolve_policy(spec, kind=_FILES[kind], settings=get_settings())
    except UnknownPolicyError as exc:
        raise ExperimentError(str(exc)) from None


def load_limit_policy(spec: str) -> Policy:
    """A limit policy as a test names it."""
    try:
        return load_policy(policy_file(spec, "limits"))
    except PolicyError as exc:
        raise ExperimentError(f"{spec}: {exc}") from None


def load_treatment_policy(spec: str) -> OverduePolicy:
    """An overdue policy as a test names it."""
    try:
        return load_overdue_policy(policy_file(spec, "overdue"))
    except PolicyError as exc:
        raise ExperimentError(f"{spec}: {exc}") from None


def running_experiment(db: Engine, name: str, kind: str) -> StoredExperiment:
    """The test of that name, running and of ``kind``; else an error saying why not."""
    stored = read_experiment(db, name)
    if stored is None:
        raise ExperimentError(
            f"--experiment {name}: no such test (cardpilot experiments create, or list)"
        )
    if stored.kind != kind:
        raise ExperimentError(
            f"--experiment {name}: a test of {stored.kind} policies cannot split the {kind} run"
        )
    if stored.status != "running":
        raise ExperimentError(
            f"--experiment {name}: the test is {stored.status}; only a running test splits a run"
        )
    return stored


def _checked_versions(stored: StoredExperiment, versions: tuple[str, str]) -> None:
    if versions != (stored.champion_version, stored.challenger_version):
        raise ExperimentError(
            f"--experiment {stored.name}: its policies changed since the test was created"
            f" (versions {stored.champion_version} and {stored.challenger_version}, now"
            f" {versions[0]} and {versions[1]}); create a new test for the new versions"
        )


def limit_arms(db: Engine, name: str) -> Arms[Policy]:
    """A running limit test's two policies."""
    stored = running_experiment(db, name, "limits")
    champion = load_limit_policy(stored.champion)
    challenger = load_limit_policy(stored.challenger)
    _checked_versions(stored, (champion.version, challenger.version))
    return Arms(stored.name, stored.share_bp, champion, challenger, stored.start_on)


def treatment_arms(db: Engine, name: str) -> Arms[OverduePolicy]:
    """A running overdue test's two policies."""
    stored = running_experiment(db, name, "overdue")
    champion = load_treatment_policy(stored.champion)
    challenger = load_treatment_policy(stored.challenger)
    _checked_versions(stored, (champion.version, challenger.version))
    return Arms(stored.name, stored.share_bp, champion, challenger, stored.start_on)
