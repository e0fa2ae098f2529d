"""Human-review cases in the store (``review_cases``), and the override decisions they make.

Every function that changes something takes the caller's connection, so a case's change, its
audit record (``cardpilot.store.audit``) and its notice (the outbox) commit together. An
override is stored as a limit decision with ``source = 'case'`` and cycle ``case-<id>``, under
the run of the decision it overrides (so no review cycle counts it), and applied to the
account and its limit history like a review's.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Connection, Date, DateTime, Engine, TextualSelect, bindparam, text

from cardpilot.store.review_models import TEXT_SETS_JOIN, decision_texts

CASE_COLUMNS = (
    "id",
    "account_id",
    "decision_id",
    "status",
    "requested_by",
    "reason",
    "opened_at",
    "opened_by",
    "outcome",
    "decision_reason",
    "decided_at",
    "decided_by",
    "new_limit_minor",
    "override_decision_id",
    "hold_until",
    "case_policy_version",
)
_TIMES = {"opened_at": DateTime(timezone=True), "decided_at": DateTime(timezone=True)}


# The account's currency rides along, for the amounts (``new_limit``) to be read in it.
_CURRENCY = (
    "(SELECT a.currency FROM accounts a WHERE a.account_id = review_cases.account_id) AS currency"
)


def _cases_sql(tail: str) -> TextualSelect:
    return text(f"SELECT {', '.join(CASE_COLUMNS)}, {_CURRENCY} FROM review_cases{tail}").columns(
        **_TIMES, hold_until=Date
    )


DECISION_READ = (
    "id",
    "run_id",
    "cycle_id",
    "source",
    "account_id",
    "as_of",
    "grade",
    "segment",
    "action",
    "score",
    "pd",
    "old_limit_minor",
    "new_limit_minor",
    "increase_pct_bp",
    "reason_codes",
    "reason_texts_zh",
    "reason_texts_en",
    "policy_version",
    "model_version",
    "decided_at",
)


@dataclass(frozen=True)
class CaseRow:
    """One case as stored."""

    id: int
    account_id: str
    decision_id: int
    status: str
    requested_by: str
    reason: str
    opened_at: dt.datetime
    opened_by: str
    outcome: str | None
    decision_reason: str | None
    decided_at: dt.datetime | None
    decided_by: str | None
    new_limit_minor: int | None
    override_decision_id: int | None
    hold_until: dt.date | None
    case_policy_version: str | None
    currency: str | None = None  # the account's

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("opened_at", "decided_at", "hold_until"):
            out[key] = out[key].isoformat() if out[key] is not None else None
        return out


@dataclass(frozen=True)
class AccountFacts:
    account_id: str
    customer_id: str
    currency: str
    credit_limit_minor: int


def account_facts(conn: Connection, account_id: str) -> AccountFacts | None:
    row = conn.execute(
        text(
            "SELECT account_id, customer_id, currency, credit_limit_minor FROM accounts"
            " WHERE account_id = :a"
        ),
        {"a": account_id},
    ).first()
    return None if row is None else AccountFacts(row[0], row[1], row[2], int(row[3]))


def _decision(row: Any) -> dict[str, Any]:
    out = dict(zip(DECISION_READ, row, strict=True))
    for key in ("reason_codes", "reason_texts_zh", "reason_texts_en"):
        out[key] = json.loads(out[key]) if out[key] else []
    if isinstance(out["as_of"], str):
        out["as_of"] = dt.date.fromisoformat(out["as_of"][:10])
    return out


def _decisions_sql(where: str) -> Any:
    renamed = {"reason_texts_zh": decision_texts("zh"), "reason_texts_en": decision_texts("en")}
    cols = ", ".join(renamed.get(c, f"d.{c}") for c in DECISION_READ)
    return text(f"SELECT {cols} FROM limit_decisions d {TEXT_SETS_JOIN} WHERE {where}").columns(
        decided_at=DateTime(timezone=True), as_of=Date
    )


def latest_decision(conn: Connection, account_id: str) -> dict[str, Any] | None:
    """The account's latest limit decision (a review's or a case's), reason lists decoded."""
    row = conn.execute(
        _decisions_sql("d.account_id = :a ORDER BY d.id DESC LIMIT 1"), {"a": account_id}
    ).first()
    return None if row is None else _decision(row)


def decision_by_id(conn: Connection, decision_id: int) -> dict[str, Any] | None:
    row = conn.execute(_decisions_sql("d.id = :id"), {"id": decision_id}).first()
    return None if row is None else _decision(row)


def insert_case(
    conn: Connection,
    *,
    account_id: str,
    decision_id: int,
    requested_by: str,
    reason: str,
    actor: str,
    at: dt.datetime,
) -> CaseRow:
    case_id = conn.execute(
        text(
            "INSERT INTO review_cases (account_id, decision_id, status, requested_by, reason,"
            " opened_at, opened_by) VALUES (:a, :d, 'open', :by, :reason, :at, :actor)"
            " RETURNING id"
        ).bindparams(bindparam("at", type_=DateTime(timezone=True))),
        {
            "a": account_id,
            "d": decision_id,
            "by": requested_by,
            "reason": reason,
            "at": at,
            "actor": actor,
        },
    ).scalar_one()
    found = read_case(conn, int(case_id))
    assert found is not None
    return found


def read_case(conn: Connection, case_id: int) -> CaseRow | None:
    row = conn.execute(
        _cases_sql(" WHERE id = :id"),
        {"id": case_id},
    ).first()
    return None if row is None else CaseRow(*row)


def list_cases(db: Engine, status: str | None = None) -> list[CaseRow]:
    """Cases in the order they were opened (``status``: only ``open`` or ``decided`` ones)."""
    where = " WHERE status = :status" if status else ""
    sql = _cases_sql(f"{where} ORDER BY id")
    with db.connect() as conn:
        return [CaseRow(*row) for row in conn.execute(sql, {"status": status} if status else {})]


@dataclass(frozen=True)
class Override:
    """An analyst's new limit for the account of a case, as a limit decision."""

    case_id: int
    reviewed: dict[str, Any]  # the decision overridden (``latest_decision``'s form)
    old_limit_minor: int
    new_limit_minor: int
    as_of: dt.date
    effective_at: dt.datetime
    reason_code: str
    reason_zh: str
    reason_en: str
    policy_version: str

    @property
    def action(self) -> str:
        if self.new_limit_minor > self.old_limit_minor:
            return "increase"
        return "decrease" if self.new_limit_minor < self.old_limit_minor else "keep"


def insert_override(conn: Connection, override: Override) -> int:
    """Store the override as a limit decision, apply it to the account and its limit
    history; returns the decision's id."""
    reviewed, old, new = override.reviewed, override.old_limit_minor, override.new_limit_minor
    increase_bp = (new - old) * 10_000 // old if new > old and old > 0 else None
    decision_id = conn.execute(
        text(
            "INSERT INTO limit_decisions (run_id, cycle_id, account_id, as_of, due_for_review,"
            " grade, segment, action, score, pd, old_limit_minor, new_limit_minor,"
            " increase_pct_bp, consecutive_overdue_months, reason_codes, reason_texts_zh,"
            " reason_texts_en, policy_version, model_version, source)"
            " VALUES (:run, :cycle, :account, :as_of, :due, :grade, :segment, :action, :score,"
            " :pd, :old, :new, :bp, NULL, :codes, :zh, :en, :policy, NULL, 'case') RETURNING id"
        ).bindparams(bindparam("as_of", type_=Date), bindparam("due")),
        {
            "run": reviewed["run_id"],
            "cycle": f"case-{override.case_id}",
            "account": reviewed["account_id"],
            "as_of": override.as_of,
            "due": False,
            "grade": reviewed["grade"],
            "segment": reviewed["segment"],
            "action": override.action,
            "score": reviewed["score"],
            "pd": reviewed["pd"],
            "old": old,
            "new": new,
            "bp": increase_bp,
            "codes": json.dumps([override.reason_code]),
            "zh": json.dumps([override.reason_zh], ensure_ascii=False),
            "en": json.dumps([override.reason_en], ensure_ascii=False),
            "policy": override.policy_version,
        },
    ).scalar_one()
    conn.execute(
        text("UPDATE accounts SET credit_limit_minor = :new WHERE account_id = :a"),
        {"new": new, "a": reviewed["account_id"]},
    )
    conn.execute(
        text(
            "INSERT INTO limit_history (account_id, effective_at, old_limit_minor,"
            " new_limit_minor, source, decision_id, policy_version, model_version, note)"
            " VALUES (:a, :at, :old, :new, 'case', :d, :policy, NULL, :note)"
        ).bindparams(bindparam("at", type_=DateTime(timezone=True))),
        {
            "a": reviewed["account_id"],
            "at": override.effective_at,
            "old": old,
            "new": new,
            "d": str(decision_id),
            "policy": override.policy_version,
            "note": f"case {override.case_id}",
        },
    )
    return int(decision_id)


def mark_decided(conn: Connection, case: CaseRow) -> None:
    """Record ``case``'s outcome (the row as decided) on its open row."""
    updated = conn.execute(
        text(
            "UPDATE review_cases SET status = 'decided', outcome = :outcome,"
            " decision_reason = :reason, decided_at = :at, decided_by = :by,"
            " new_limit_minor = :new, override_decision_id = :override, hold_until = :hold,"
            " case_policy_version = :version WHERE id = :id AND status = 'open'"
        ).bindparams(bindparam("at", type_=DateTime(timezone=True)), bindparam("hold", type_=Date)),
        {
            "outcome": case.outcome,
            "reason": case.decision_reason,
            "at": case.decided_at,
            "by": case.decided_by,
            "new": case.new_limit_minor,
            "override": case.override_decision_id,
            "hold": case.hold_until,
            "version": case.case_policy_version,
            "id": case.id,
        },
    ).rowcount
    if updated != 1:
        raise RuntimeError(f"case {case.id} was decided by someone else meanwhile")


def accounts_on_hold(db: Engine, as_of: dt.date) -> frozenset[str]:
    """Accounts whose limit an analyst's override holds at ``as_of`` (its ``hold_until`` is
    later): a review as of that date leaves them undecided."""
    with db.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT DISTINCT account_id FROM review_cases"
                " WHERE outcome = 'override' AND hold_until > :as_of"
            ).bindparams(bindparam("as_of", type_=Date)),
            {"as_of": as_of},
        )
        return frozenset(str(r[0]) for r in rows)


def account_on_hold(db: Engine, account_id: str, as_of: dt.date) -> bool:
    """Whether an analyst's override holds the account's limit at ``as_of``
    (``accounts_on_hold`` for one account, by its index)."""
    with db.connect() as conn:
        row = conn.execute(
            text(
                "SELECT 1 FROM review_cases WHERE account_id = :a"
                " AND outcome = 'override' AND hold_until > :as_of LIMIT 1"
            ).bindparams(bindparam("as_of", type_=Date)),
            {"a": account_id, "as_of": as_of},
        ).first()
        return row is not None


def case_of_override(conn: Connection, decision_id: int) -> CaseRow | None:
    """The case whose override is the limit decision ``decision_id``."""
    row = conn.execute(_cases_sql(" WHERE override_decision_id = :d"), {"d": decision_id}).first()
    return None if row is None else CaseRow(*row)
