"""Human review of a limit decision (PIPL art. 24): ``cardpilot cases open|decide|list``.

A customer (or an analyst) asks for a person to look again at the account's latest automated
limit decision: ``open_review_case``. The analyst upholds it or overrides it with a new limit:
``decide_review_case``. Each step is one transaction holding the change, its audit record and,
for a decision, the customer's notice in the outbox (message type ``case_outcome``). An
override is a limit decision of its own (``source = 'case'``) and holds the account's limit
against later reviews for the case policy's ``override_hold_days``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from cardpilot.audit.chain import AuditEntry, digest_text
from cardpilot.config import get_settings
from cardpilot.notify.notice import LimitChangeNotice, NoticeReason
from cardpilot.notify.outbox import enqueue_notices
from cardpilot.policy.cases import OUTCOMES, CasePolicy
from cardpilot.store.audit import append_audit, audited_transaction, default_actor
from cardpilot.store.cases import (
    AccountFacts,
    CaseRow,
    Override,
    account_facts,
    decision_by_id,
    insert_case,
    insert_override,
    latest_decision,
    mark_decided,
    read_case,
)
from cardpilot.store.pending_limits import apply_due, supersede_for_account

REQUESTERS = ("customer", "analyst")
NOTICE_TYPE = "case_outcome"


class CaseError(ValueError):
    """A case request that cannot be carried out: says what is wrong and what to do."""


def audited(case: CaseRow) -> dict[str, Any]:
    """The case as its audit record holds it: the free texts (which may name a person) by
    their digests, so the append-only log keeps no personal data and still proves the texts
    in ``review_cases`` unchanged."""
    out = case.as_json()
    out.pop("currency", None)  # the account's, not the case's: records stay as they were
    for key in ("reason", "decision_reason"):
        if out[key] is not None:
            out[key] = {"sha256": digest_text(out[key])}
    return out


def _reason(reason: str) -> str:
    reason = reason.strip()
    if not reason:
        raise CaseError("--reason is empty: say why, in words another analyst can follow")
    return reason


def open_review_case(
    db: Engine,
    account_id: str,
    reason: str,
    *,
    requested_by: str = "customer",
    actor: str | None = None,
) -> CaseRow:
    """Open a case on the account's latest limit decision."""
    if requested_by not in REQUESTERS:
        raise CaseError(f"--requested-by {requested_by!r}: use one of {', '.join(REQUESTERS)}")
    reason = _reason(reason)
    actor = actor or default_actor()
    with audited_transaction(db) as conn:
        if account_facts(conn, account_id) is None:
            raise CaseError(f"account {account_id!r} is not in the store")
        decision = latest_decision(conn, account_id)
        if decision is None:
            raise CaseError(
                f"account {account_id!r} has no limit decision to review; run a review first"
            )
        now = dt.datetime.now(dt.UTC)
        case = insert_case(
            conn,
            account_id=account_id,
            decision_id=int(decision["id"]),
            requested_by=requested_by,
            reason=reason,
            actor=actor,
            at=now,
        )
        entry = AuditEntry(
            actor, "case.open", f"case:{case.id}", audited(case), after=audited(case)
        )
        append_audit(conn, entry, now)
    return case


def decide_review_case(
    db: Engine,
    case_id: int,
    outcome: str,
    reason: str,
    case_policy: CasePolicy,
    *,
    new_limit_minor: int | None = None,
    actor: str | None = None,
    today: dt.date | None = None,
) -> CaseRow:
    """Record the analyst's outcome of an open case: ``uphold`` (the decision stands) or
    ``override`` with ``new_limit_minor`` (stored and applied as a limit decision)."""
    if outcome not in OUTCOMES:
        raise CaseError(f"--outcome {outcome!r}: use one of {', '.join(OUTCOMES)}")
    if (outcome == "override") != (new_limit_minor is not None):
        raise CaseError("--new-limit is required with --outcome override, and only with it")
    if new_limit_minor is not None and new_limit_minor <= 0:
        raise CaseError("--new-limit must be a positive amount")
    reason = _reason(reason)
    actor = actor or default_actor()
    now = dt.datetime.now(dt.UTC)
    today = today or now.date()
    with audited_transaction(db) as conn:
        case = read_case(conn, case_id)
        if case is None:
            raise CaseError(f"case {case_id} does not exist; see cardpilot cases list")
        if case.status != "open":
            raise CaseError(f"case {case_id} was already decided ({case.outcome})")
        # A decrease whose notice period is over is in force: the case decides from it.
        zone = get_settings().timezone
        pending = apply_due(conn, today, zone=zone, now=now, account_id=case.account_id)
        facts = account_facts(conn, case.account_id)
        assert facts is not None  # a case's account is a foreign key
        decided = replace(
            case,
            status="decided",
            outcome=outcome,
            decision_reason=reason,
            decided_at=now,
            decided_by=actor,
            case_policy_version=case_policy.version,
        )
        if new_limit_minor is not None:
            decided = _override(conn, decided, facts, new_limit_minor, case_policy, today, now)
        mark_decided(conn, decided)
        _notify(conn, decided, facts, new_limit_minor, case_policy, today)
        before = {"credit_limit_minor": facts.credit_limit_minor, "case": audited(case)}
        if pending.changed:
            before["pending_limit_changes"] = pending.as_json()
        after = {
            "credit_limit_minor": new_limit_minor or facts.credit_limit_minor,
            "case": audited(decided),
        }
        subject = f"case:{case_id}"
        entry = AuditEntry(actor, "case.decide", subject, audited(decided), before, after)
        append_audit(conn, entry, now)
    return decided


def _override(
    conn: Connection,
    case: CaseRow,
    facts: AccountFacts,
    new_limit_minor: int,
    policy: CasePolicy,
    today: dt.date,
    now: dt.datetime,
) -> CaseRow:
    if new_limit_minor == facts.credit_limit_minor:
        raise CaseError(
            "--new-limit equals the account's current limit; use --outcome uphold instead"
        )
    reviewed = decision_by_id(conn, case.decision_id)
    assert reviewed is not None  # a case's decision is a foreign key
    text = policy.outcome_text("override")
    override = Override(
        case_id=case.id,
        reviewed=reviewed,
        old_limit_minor=facts.credit_limit_minor,
        new_limit_minor=new_limit_minor,
        as_of=today,
        effective_at=now,
        reason_code=policy.override_reason_code,
        reason_zh=text.zh_cn,
        reason_en=text.en,
        policy_version=policy.version,
    )
    decision_id = insert_override(conn, override)
    # A decrease still in its notice period gives way to the analyst's limit.
    supersede_for_account(conn, facts.account_id, decision_id, f"case {case.id} override")
    return replace(
        case,
        new_limit_minor=new_limit_minor,
        override_decision_id=decision_id,
        hold_until=today + dt.timedelta(days=policy.override_hold_days),
    )


def _notify(
    conn: Connection,
    case: CaseRow,
    facts: AccountFacts,
    new_limit_minor: int | None,
    policy: CasePolicy,
    today: dt.date,
) -> list[str]:
    """Queue the customer's notice of the outcome in the case's transaction."""
    assert case.outcome is not None
    text = policy.outcome_text(case.outcome)
    code = policy.override_reason_code if case.outcome == "override" else "CASE_UPHELD"
    extra: dict[str, Any] = {"outcome": case.outcome, "case_id": case.id}
    notice = LimitChangeNotice(
        decision_id=f"review_case:{case.id}",
        account_id=facts.account_id,
        customer_id=facts.customer_id,
        old_limit_minor=facts.credit_limit_minor,
        new_limit_minor=new_limit_minor or facts.credit_limit_minor,
        currency=facts.currency,
        effective_date=today,
        reasons=(NoticeReason(code, text.zh_cn, text.en),),
        policy_version=policy.version,
        message_type=NOTICE_TYPE,
        extra=extra,
    )
    with Session(bind=conn) as session:
        keys = enqueue_notices(session, [notice])
        session.flush()
    return keys
