"""Champion/challenger tests in the store: the ``experiments`` rows, their changes (each one
audited in the same transaction), and what a test's report reads: the decisions it split and
the outcomes of their accounts afterwards (later statements, human-review cases, stored
outcome labels)."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

import polars as pl
from sqlalchemy import Connection, DateTime, Engine, bindparam, inspect, text

from cardpilot.audit.chain import AuditEntry
from cardpilot.domain.experiments import ExperimentSpec
from cardpilot.store.audit import append_audit, audited_transaction
from cardpilot.store.frame_reads import query_frame

TABLE = "experiments"
_COLUMNS = (
    "id",
    "name",
    "kind",
    "champion",
    "challenger",
    "champion_version",
    "challenger_version",
    "share_bp",
    "start_on",
    "alpha_bp",
    "power_bp",
    "status",
    "created_at",
    "created_by",
    "stopped_at",
    "promoted_at",
)
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM experiments"
_INSERT = text(
    "INSERT INTO experiments (name, kind, champion, challenger, champion_version,"
    " challenger_version, share_bp, start_on, alpha_bp, power_bp, status, created_at,"
    " created_by) VALUES (:name, :kind, :champion, :challenger, :champion_version,"
    " :challenger_version, :share_bp, :start_on, :alpha_bp, :power_bp, 'running', :at, :actor)"
).bindparams(bindparam("at", type_=DateTime(timezone=True)))
_STATUS = {
    "stopped": "UPDATE experiments SET status = 'stopped', stopped_at = :at WHERE name = :name",
    "promoted": (
        "UPDATE experiments SET status = 'promoted', promoted_at = :at,"
        " stopped_at = COALESCE(stopped_at, :at) WHERE name = :name"
    ),
}
# The tables a test splits, by its kind, and the date column of their decisions.
SPLIT_TABLES = {"limits": "limit_decisions", "overdue": "overdue_treatments"}


class ExperimentExistsError(ValueError):
    """A test of that name is in the store already."""


@dataclass(frozen=True)
class StoredExperiment:
    """An ``experiments`` row."""

    id: int
    name: str
    kind: str
    champion: str
    challenger: str
    champion_version: str
    challenger_version: str
    share_bp: int
    start_on: dt.date
    alpha_bp: int
    power_bp: int
    status: str
    created_at: dt.datetime
    created_by: str
    stopped_at: dt.datetime | None
    promoted_at: dt.datetime | None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _row(values: Any) -> StoredExperiment:
    row = dict(zip(_COLUMNS, values, strict=True))
    if isinstance(row["start_on"], str):  # SQLite's text
        row["start_on"] = dt.date.fromisoformat(row["start_on"])
    for column in ("created_at", "stopped_at", "promoted_at"):
        value = row[column]
        if isinstance(value, str):
            value = dt.datetime.fromisoformat(value)
        if isinstance(value, dt.datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)  # stored in UTC
        row[column] = value
    return StoredExperiment(**row)


def has_experiments(db: Engine) -> bool:
    """Whether the store has the table (a store not upgraded yet has none)."""
    return inspect(db).has_table(TABLE)


def insert_experiment(
    db: Engine,
    spec: ExperimentSpec,
    versions: tuple[str, str],
    entry: AuditEntry,
    at: dt.datetime,
) -> StoredExperiment:
    """Store a new test and its audit record in one transaction."""
    with audited_transaction(db) as conn:
        if _read(conn, spec.name) is not None:
            raise ExperimentExistsError(
                f"test {spec.name!r} exists already: choose another name"
                " (cardpilot experiments list)"
            )
        conn.execute(
            _INSERT,
            {
                "name": spec.name,
                "kind": spec.kind,
                "champion": spec.champion,
                "challenger": spec.challenger,
                "champion_version": versions[0],
                "challenger_version": versions[1],
                "share_bp": spec.share_bp,
                "start_on": spec.start_on,
                "alpha_bp": spec.alpha_bp,
                "power_bp": spec.power_bp,
                "at": at,
                "actor": entry.actor,
            },
        )
        stored = _read(conn, spec.name)
        assert stored is not None
        append_audit(conn, entry, at)
    return stored


def set_status(
    db: Engine, name: str, status: str, entry: AuditEntry, at: dt.datetime
) -> StoredExperiment:
    """Mark a test stopped or promoted, with its audit record, in one transaction."""
    with audited_transaction(db) as conn:
        statement = text(_STATUS[status]).bindparams(bindparam("at", type_=DateTime(timezone=True)))
        conn.execute(statement, {"name": name, "at": at})
        append_audit(conn, entry, at)
        stored = _read(conn, name)
    assert stored is not None
    return stored


def _read(conn: Connection, name: str) -> StoredExperiment | None:
    row = conn.execute(text(f"{_SELECT} WHERE name = :name"), {"name": name}).first()
    return None if row is None else _row(row)


def read_experiment(db: Engine, name: str) -> StoredExperiment | None:
    """The test of that name (None: no such test, or a store without the table)."""
    if not has_experiments(db):
        return None
    with db.connect() as conn:
        return _read(conn, name)


def list_experiments(db: Engine) -> list[StoredExperiment]:
    """Every test, the newest first."""
    if not has_experiments(db):
        return []
    with db.connect() as conn:
        return [_row(r) for r in conn.execute(text(f"{_SELECT} ORDER BY id DESC"))]


def promoted_policy(db: Engine, kind: str) -> StoredExperiment | None:
    """The last promoted test of ``kind``: its challenger is the champion of later runs."""
    if not has_experiments(db):
        return None
    with db.connect() as conn:
        row = conn.execute(
            text(
                f"{_SELECT} WHERE kind = :kind AND status = 'promoted'"
                " ORDER BY promoted_at DESC, id DESC LIMIT 1"
            ),
            {"kind": kind},
        ).first()
    return None if row is None else _row(row)


# --------------------------------------------------------------------------- the report's reads

_SPLIT_DECISIONS: dict[str, pl.DataType] = {
    "account_id": pl.String(),
    "arm": pl.String(),
    "as_of": pl.Date(),
    "policy_version": pl.String(),
    "old_limit_minor": pl.Int64(),
    "new_limit_minor": pl.Int64(),
}
_LATER: dict[str, pl.DataType] = {
    "account_id": pl.String(),
    "arm": pl.String(),
    "cycle_date": pl.Date(),
    "credit_limit_minor": pl.Int64(),
    "statement_balance_minor": pl.Int64(),
    "amount_paid_minor": pl.Int64(),
    "days_past_due": pl.Int64(),
    "repayment_status": pl.Int64(),
}
_CASES: dict[str, pl.DataType] = {
    "account_id": pl.String(),
    "arm": pl.String(),
    "requested_by": pl.String(),
}
_LABELS: dict[str, pl.DataType] = {
    "account_id": pl.String(),
    "arm": pl.String(),
    "label": pl.String(),
    "value": pl.Int64(),
}


def split_decisions(db: Engine, name: str, kind: str) -> pl.DataFrame:
    """The decisions a test split: account, arm, decision date, policy version, limits."""
    table = SPLIT_TABLES[kind]
    with db.connect() as conn:
        return query_frame(
            conn,
            "SELECT account_id, arm, as_of, policy_version, old_limit_minor, new_limit_minor"
            f" FROM {table} WHERE experiment = :name ORDER BY account_id, as_of",
            {"name": name},
            _SPLIT_DECISIONS,
        )


def later_statements(db: Engine, name: str, kind: str) -> pl.DataFrame:
    """The statements of a test's accounts dated after their decision in the test (the
    limit: the statement's, else the account's)."""
    table = SPLIT_TABLES[kind]
    with db.connect() as conn:
        return query_frame(
            conn,
            # A statement without its limit is read against the account's limit now.
            "SELECT s.account_id, d.arm, s.cycle_date,"
            " COALESCE(s.credit_limit_minor, a.credit_limit_minor),"
            " s.statement_balance_minor, s.amount_paid_minor, s.days_past_due,"
            " s.repayment_status"
            f" FROM {table} d JOIN statements s ON s.account_id = d.account_id"
            " AND s.cycle_date > d.as_of JOIN accounts a ON a.account_id = d.account_id"
            " WHERE d.experiment = :name",
            {"name": name},
            _LATER,
        )


def split_cases(db: Engine, name: str) -> pl.DataFrame:
    """The human-review cases opened on a test's limit decisions, and who asked for each."""
    with db.connect() as conn:
        return query_frame(
            conn,
            "SELECT d.account_id, d.arm, c.requested_by FROM review_cases c"
            " JOIN limit_decisions d ON d.id = c.decision_id WHERE d.experiment = :name",
            {"name": name},
            _CASES,
        )


def split_labels(db: Engine, name: str, kind: str) -> pl.DataFrame:
    """The stored outcome labels (``performance_labels``) of a test's accounts."""
    table = SPLIT_TABLES[kind]
    with db.connect() as conn:
        return query_frame(
            conn,
            "SELECT d.account_id, d.arm, p.label, CAST(p.value AS INTEGER)"
            f" FROM {table} d JOIN performance_labels p ON p.account_id = d.account_id"
            " WHERE d.experiment = :name",
            {"name": name},
            _LABELS,
        )
