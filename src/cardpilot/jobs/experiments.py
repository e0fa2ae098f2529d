"""Champion/challenger tests: ``cardpilot experiments create|list|report|stop|promote``.

A test is policy data in the store (``store.experiments``): two policies of one kind (limit or
overdue) as ``--policy`` names them, the challenger's share of the accounts, a start date and
the error rates its minimum detectable effect is stated at. ``review --experiment`` and
``overdue treat --experiment`` split their run by it; the report compares the arms' outcomes
afterwards (``domain.experiment_outcomes``). Creating, stopping and promoting a test are each
audited in the same transaction as the change. A promoted test's challenger is the policy of
later runs that name no ``--policy`` (``store.experiments.promoted_policy``).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from cardpilot.audit.chain import AuditEntry
from cardpilot.batch.experiment_arms import (
    ExperimentError,
    load_limit_policy,
    load_treatment_policy,
    policy_file,
)
from cardpilot.domain.experiment_outcomes import (
    arm_sizes,
    arm_versions,
    compare_outcomes,
    outcome_json,
)
from cardpilot.domain.experiment_stats import z_power, z_two_sided
from cardpilot.domain.experiments import ExperimentSpec
from cardpilot.domain.figures import rate
from cardpilot.domain.money import BP
from cardpilot.store.audit import default_actor
from cardpilot.store.db import make_engine, upgrade
from cardpilot.store.experiments import (
    ExperimentExistsError,
    StoredExperiment,
    insert_experiment,
    later_statements,
    read_experiment,
    set_status,
    split_cases,
    split_decisions,
    split_labels,
)

__all__ = ["ExperimentError", "create_experiment", "experiment_report", "promote", "stop"]


def _named(spec: str, kind: str) -> str:
    """A policy as the test keeps it: a name as given, a path made absolute."""
    path = Path(spec).expanduser()
    if path.exists():
        return str(path.resolve())
    policy_file(spec, kind)  # an unknown name fails here, naming the policies there are
    return spec


def _version_and_currency(spec: str, kind: str) -> tuple[str, str]:
    if kind == "limits":
        limits = load_limit_policy(spec)
        return limits.version, limits.limits.currency
    overdue = load_treatment_policy(spec)
    return overdue.version, overdue.file.currency


def create_experiment(database_url: str, spec: ExperimentSpec) -> StoredExperiment:
    """Store a new test after loading both its policies (each must validate, and the two
    must share a currency); audited."""
    spec = ExperimentSpec(
        name=spec.name,
        kind=spec.kind,
        champion=_named(spec.champion, spec.kind),
        challenger=_named(spec.challenger, spec.kind),
        share_bp=spec.share_bp,
        start_on=spec.start_on,
        alpha_bp=spec.alpha_bp,
        power_bp=spec.power_bp,
    )
    champion, champion_currency = _version_and_currency(spec.champion, spec.kind)
    challenger, challenger_currency = _version_and_currency(spec.challenger, spec.kind)
    if champion_currency != challenger_currency:
        raise ExperimentError(
            f"the champion's currency is {champion_currency}, the challenger's"
            f" {challenger_currency}: test two policies in one currency"
        )
    upgrade(database_url)
    db = make_engine(database_url)
    try:
        payload = {
            "name": spec.name,
            "kind": spec.kind,
            "champion": spec.champion,
            "challenger": spec.challenger,
            "champion_version": champion,
            "challenger_version": challenger,
            "share_bp": spec.share_bp,
            "start_on": spec.start_on.isoformat(),
            "alpha_bp": spec.alpha_bp,
            "power_bp": spec.power_bp,
        }
        entry = AuditEntry(
            default_actor(), "experiment.create", f"experiment:{spec.name}", payload, after=payload
        )
        try:
            return insert_experiment(db, spec, (champion, challenger), entry, _now())
        except ExperimentExistsError as exc:
            raise ExperimentError(str(exc)) from None
    finally:
        db.dispose()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _existing(db: Engine, name: str) -> StoredExperiment:
    stored = read_experiment(db, name)
    if stored is None:
        raise ExperimentError(f"no test named {name!r} (cardpilot experiments list)")
    return stored


def _change(db: Engine, name: str, status: str, action: str) -> StoredExperiment:
    stored = _existing(db, name)
    allowed = ("running",) if status == "stopped" else ("running", "stopped")
    if stored.status not in allowed:
        raise ExperimentError(f"test {name} is {stored.status} already: nothing to {action}")
    before = {"status": stored.status}
    after = {"status": status}
    payload: dict[str, Any] = {"name": name, "status": status}
    if status == "promoted":
        payload |= {
            "kind": stored.kind,
            "champion": stored.challenger,
            "champion_version": stored.challenger_version,
            "replaces": stored.champion,
            "replaces_version": stored.champion_version,
        }
    entry = AuditEntry(
        default_actor(), f"experiment.{action}", f"experiment:{name}", payload, before, after
    )
    return set_status(db, name, status, entry, _now())


def stop(db: Engine, name: str) -> StoredExperiment:
    """Stop a running test: later runs no longer split by it. Audited."""
    return _change(db, name, "stopped", "stop")


def promote(db: Engine, name: str) -> StoredExperiment:
    """Promote a test's challenger: it becomes the policy of later runs that name no
    ``--policy`` (a running test stops). Audited."""
    return _change(db, name, "promoted", "promote")


def experiment_report(db: Engine, name: str) -> dict[str, Any]:
    """The arms of a test compared on their outcomes after their decisions, each with its
    95 % interval (at the test's level) and its minimum detectable effect."""
    stored = _existing(db, name)
    decisions = split_decisions(db, name, stored.kind)
    later = later_statements(db, name, stored.kind)
    cases = split_cases(db, name) if stored.kind == "limits" else _no_cases()
    labels = split_labels(db, name, stored.kind)
    outcomes = compare_outcomes(
        decisions, later, cases, labels, alpha_bp=stored.alpha_bp, power_bp=stored.power_bp
    )
    sizes = arm_sizes(decisions)
    total = sum(sizes.values())
    _, currency = _version_and_currency(stored.champion, stored.kind)
    dates = decisions["as_of"]
    return {
        "experiment": stored.as_json(),
        "currency": currency,
        "decided_from": dates.min() if dates.len() else None,
        "decided_to": dates.max() if dates.len() else None,
        "later_statements": later.height,
        "arms": sizes,
        "challenger_share": rate(sizes["challenger"] / total) if total else None,
        "requested_share": rate(stored.share_bp / BP),
        "policy_versions": arm_versions(decisions),
        "confidence": rate(1 - stored.alpha_bp / BP),
        "power": rate(stored.power_bp / BP),
        "z": {"alpha": rate(z_two_sided(stored.alpha_bp)), "power": rate(z_power(stored.power_bp))},
        "outcomes": [outcome_json(o) for o in outcomes],
    }


def _no_cases() -> Any:
    import polars as pl

    return pl.DataFrame(
        schema={"account_id": pl.String(), "arm": pl.String(), "requested_by": pl.String()}
    )
