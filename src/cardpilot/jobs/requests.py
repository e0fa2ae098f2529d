"""``cardpilot request``: a customer asks for more credit, decided now; temporary limits expire.

The account is scored today as the review scores it (``batch.scoring.score_chunk`` on its
statement window) and decided by the one decision function (``engines.single``) as if its review
were due, its last limit change read from the limit history so the cooling guard holds; the
request is then ``cardpilot.customer.requests``. In one transaction: the request's row, for a
granted permanent increase the account's new limit and its limit-history row, for a temporary
limit the account's temporary limit and expiry date, a ``limit_change`` event in the ledger,
the customer's notice (``limit_request``) and an audit record. ``expire_temporary_limits``
takes off every temporary limit whose date has come (the scheduler runs it daily), with its
ledger event, the customer's notice (``temporary_limit_end``) and one audit record.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from cardpilot.audit.chain import AuditEntry
from cardpilot.batch.scoring import (
    Scorer,
    model_version_of,
    reason_codes_of,
    score_chunk,
    score_reason_texts,
)
from cardpilot.config import get_settings
from cardpilot.customer.requests import (
    RequestDecision,
    RequestError,
    decide_permanent,
    decide_temporary,
)
from cardpilot.domain.money import format_major
from cardpilot.engines.single import decide_account_row
from cardpilot.ledger.postings import Kind, Posting, Source
from cardpilot.notify.notice import LimitChangeNotice, NoticeReason
from cardpilot.notify.outbox import enqueue_notices
from cardpilot.policy.customer import CustomerPolicy
from cardpilot.policy.schema import Policy
from cardpilot.store.audit import append_audit, audited_transaction, default_actor
from cardpilot.store.cases import account_facts
from cardpilot.store.ledger import insert_postings
from cardpilot.store.limit_requests import (
    apply_permanent,
    due_to_expire,
    expire_request,
    insert_request,
    last_limit_change_on,
    set_temporary,
    supersede_active,
)
from cardpilot.store.one_account import account_chunk

__all__ = ["RequestError", "expire_temporary_limits", "request_increase"]


def _review_now(
    db: Engine, account_id: str, scorer: Scorer, limits: Policy, today: dt.date
) -> dict[str, Any]:
    """The account's decision today, as a review due now would make it."""
    chunk = account_chunk(db, account_id, today)
    if chunk is None:
        raise RequestError(f"account {account_id!r} is not in the store")
    with db.connect() as conn:
        changed = last_limit_change_on(conn, account_id)
    table = score_chunk(chunk, scorer, today).with_columns(
        pl.lit(None, dtype=pl.Date).alias("last_review_on"),
        pl.lit(changed, dtype=pl.Date).alias("last_limit_change_on"),
    )
    texts = score_reason_texts(reason_codes_of(table), {})
    return decide_account_row(table.row(0, named=True), limits, today, reason_texts=texts)


def request_increase(
    db: Engine,
    account_id: str,
    *,
    kind: str,
    amount_minor: int,
    months: int | None,
    purpose: str | None,
    scorer: Scorer,
    limits: Policy,
    customer: CustomerPolicy,
    today: dt.date | None = None,
) -> dict[str, Any]:
    """Decide, store and apply a request (see the module); the stored request as a dict."""
    if customer.requests is None:
        raise RequestError("the policy's customer.yaml has no requests section")
    if kind not in ("permanent", "temporary"):
        raise RequestError(f"--kind {kind!r}: use permanent or temporary")
    zone = ZoneInfo(get_settings().timezone)
    now = dt.datetime.now(zone)
    today = today or now.date()
    review = _review_now(db, account_id, scorer, limits, today)
    if kind == "permanent":
        decision = decide_permanent(review, amount_minor, customer)
    else:
        step = limits.limits.rounding.limit_step_minor
        decision = decide_temporary(review, amount_minor, months or 0, customer, today, step)
    row = _row(decision, account_id, purpose, amount_minor, months, today, now)
    row |= {
        "policy_version": limits.version,
        "customer_policy_version": customer.version,
        "model_version": model_version_of(scorer),
    }
    with audited_transaction(db) as conn:
        if decision.action == "granted" and kind == "temporary":
            supersede_active(conn, account_id)
        request_id = insert_request(conn, row)
        if decision.action == "granted":
            _apply(conn, request_id, decision, row, now)
        _notify(conn, request_id, account_id, decision, today, limits.version)
        entry = AuditEntry(
            default_actor(), "request.decide", f"limit_request:{request_id}", _audited(row)
        )
        append_audit(conn, entry, now.astimezone(dt.UTC))
    return {"id": request_id, **_audited(row)}


def _notify(
    conn: Connection,
    request_id: int,
    account_id: str,
    decision: RequestDecision,
    today: dt.date,
    policy_version: str,
) -> None:
    """The customer's notice of the decision, queued in its transaction."""
    facts = account_facts(conn, account_id)
    assert facts is not None
    temporary = decision.temporary_limit_minor
    extra: dict[str, Any] = {
        "granted": decision.action == "granted",
        "temporary_limit": format_major(temporary) if temporary is not None else None,
        "expires_on": decision.expires_on.isoformat() if decision.expires_on else None,
    }
    notice = LimitChangeNotice(
        decision_id=f"limit_request:{request_id}",
        account_id=facts.account_id,
        customer_id=facts.customer_id,
        old_limit_minor=decision.old_limit_minor,
        new_limit_minor=decision.new_limit_minor or decision.old_limit_minor,
        currency=facts.currency,
        effective_date=today,
        reasons=tuple(NoticeReason(*r) for r in decision.reasons),
        policy_version=policy_version,
        message_type="limit_request",
        extra=extra,
    )
    with Session(bind=conn) as session:
        enqueue_notices(session, [notice])
        session.flush()


def _row(
    decision: RequestDecision,
    account_id: str,
    purpose: str | None,
    amount_minor: int,
    months: int | None,
    today: dt.date,
    now: dt.datetime,
) -> dict[str, Any]:
    fields = asdict(decision)
    reasons = fields.pop("reasons")
    active = decision.action == "granted" and decision.kind == "temporary"
    return {
        **fields,
        "account_id": account_id,
        "purpose": purpose,
        "requested_minor": amount_minor,
        "months": months,
        "as_of": today,
        "decided_at": now.astimezone(dt.UTC),
        "status": "active" if active else "decided",
        "reason_codes": [r[0] for r in reasons],
        "reason_texts_zh": [r[1] for r in reasons],
        "reason_texts_en": [r[2] for r in reasons],
    }


def _apply(
    conn: Any, request_id: int, decision: RequestDecision, row: dict[str, Any], at: dt.datetime
) -> None:
    account = row["account_id"]
    if decision.kind == "permanent" and decision.new_limit_minor is not None:
        versions = (row["policy_version"], row["model_version"])
        old, new = decision.old_limit_minor, decision.new_limit_minor
        apply_permanent(conn, request_id, account, old, new, at, versions)
        detail: dict[str, Any] = {
            "old_limit_minor": old,
            "new_limit_minor": new,
            "request_id": request_id,
        }
        key = f"request:{request_id}"
    else:
        assert decision.temporary_limit_minor is not None
        assert decision.expires_on is not None
        set_temporary(conn, account, decision.temporary_limit_minor, decision.expires_on)
        detail = {
            "temporary_limit_minor": decision.temporary_limit_minor,
            "expires_on": decision.expires_on.isoformat(),
            "request_id": request_id,
        }
        key = f"request:{request_id}:temporary"
    insert_postings(conn, [_event(account, at, key, detail)])


def _event(account: str, at: dt.datetime, key: str, detail: dict[str, Any]) -> Posting:
    return Posting(
        account_id=account,
        kind=Kind.LIMIT_CHANGE,
        effective_at=at,
        source=Source.DECISION,
        idempotency_key=key,
        detail=json.dumps(detail, sort_keys=True),
    )


def _notify_end(
    conn: Connection, request_id: int, account: str, amount: int, ended: dt.date
) -> str | None:
    """The customer's notice that the temporary limit has ended, in the expiry's transaction;
    the account's currency."""
    facts = account_facts(conn, account)
    if facts is None:
        return None
    notice = LimitChangeNotice(
        decision_id=f"limit_request_end:{request_id}",
        account_id=account,
        customer_id=facts.customer_id,
        old_limit_minor=facts.credit_limit_minor + amount,
        new_limit_minor=facts.credit_limit_minor,
        currency=facts.currency,
        effective_date=ended,
        reasons=(),
        policy_version="",
        message_type="temporary_limit_end",
    )
    with Session(bind=conn) as session:
        enqueue_notices(session, [notice])
        session.flush()
    return facts.currency


def _audited(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()}


def expire_temporary_limits(db: Engine, as_of: dt.date | None = None) -> list[dict[str, Any]]:
    """Take off every active temporary limit whose expiry date is on or before ``as_of``
    (default today); a second run finds nothing left."""
    zone = ZoneInfo(get_settings().timezone)
    now = dt.datetime.now(zone)
    as_of = as_of or now.date()
    expired: list[dict[str, Any]] = []
    with audited_transaction(db) as conn:
        for request_id, account, amount, expires_on in due_to_expire(conn, as_of):
            expire_request(conn, request_id, account, expires_on)
            at = dt.datetime.combine(expires_on, dt.time(), tzinfo=zone)
            detail = {
                "temporary_limit_minor": None,
                "ended_minor": amount,
                "request_id": request_id,
            }
            insert_postings(conn, [_event(account, at, f"request:{request_id}:expired", detail)])
            currency = _notify_end(conn, request_id, account, amount, expires_on)
            expired.append(
                {"id": request_id, "account_id": account, "currency": currency,
                 "amount_minor": amount, "expires_on": expires_on.isoformat()}
            )  # fmt: skip
        if expired:
            payload = {"as_of": as_of.isoformat(), "expired": expired}
            entry = AuditEntry(default_actor(), "request.expire", f"expiry:{as_of}", payload)
            append_audit(conn, entry, now.astimezone(dt.UTC))
    return expired
