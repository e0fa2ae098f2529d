"""The account's story: what happened to one account, as of a day, as one JSON-ready object.

``cardpilot account show`` prints it and the HTTP API returns it for one account. Its keys:
``account`` (masked personal data), ``as_of``, ``statements``, ``postings``, ``balances`` (by
component, the sums of the postings), ``decisions`` (limit reviews and overdue treatments,
each with its reasons in zh-CN and en, policy and model versions), ``pending_limit_changes``
(decreases waiting for their notice period, applied or superseded; the one still waiting is
also ``account.pending_limit``), ``plans`` (each with its
events), ``watch_flags`` and ``contacts`` (messages queued or sent, and contact events in the
ledger; never their text, which may hold personal data). Amounts are decimal strings in major
units with the account's currency, rates decimal strings; dates ISO 8601: the story is in the
``--json`` convention (``cardpilot.domain.figures``) as it is built, so the API sends it as it is.

:func:`assemble_story` is pure (records in, object out); :func:`account_story` reads the store.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection

from cardpilot.domain.figures import rate_from_bp
from cardpilot.domain.money import format_major
from cardpilot.ledger.postings import Kind
from cardpilot.privacy.masking import mask_email, mask_name, mask_national_id, mask_phone
from cardpilot.store.account_story import AccountRecords, Row, read_account

Decrypt = Callable[[bytes | None], str | None]
STORY_KEYS = (
    "statements",
    "postings",
    "balances",
    "decisions",
    "pending_limit_changes",
    "plans",
    "watch_flags",
    "contacts",
)


def _money(value: Any) -> str | None:
    return None if value is None else format_major(int(value))


def _day(value: Any) -> str | None:
    """A stored date (a date, or SQLite's ISO text) as ``YYYY-MM-DD``."""
    return None if value is None else str(value)[:10]


def _instant(value: Any) -> str | None:
    """A stored timestamp (UTC) as ISO 8601 with its offset."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        stamp = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    else:
        stamp = dt.datetime.fromisoformat(str(value)).replace(tzinfo=dt.UTC)
    return stamp.astimezone(dt.UTC).isoformat()


def _json_list(value: Any) -> list[Any]:
    if value is None or value == "":
        return []
    loaded = json.loads(value) if isinstance(value, str) else value
    return list(loaded)


def _customer(customer: Row, decrypt: Decrypt | None, masked: bool = True) -> dict[str, Any]:
    def clear(column: str) -> str | None:
        blob = customer.get(column)
        if blob is None or decrypt is None:
            return None
        try:
            return decrypt(bytes(blob))
        except Exception:  # a key this process does not hold: masked as unknown
            return None

    if not masked:  # for a caller allowed to see personal data, who is audited for it
        return {
            "customer_id": customer.get("customer_id"),
            **{f: clear(f"{f}_enc") for f in ("name", "national_id", "phone", "email")},
            "locale": customer.get("locale"),
        }
    return {
        "customer_id": customer.get("customer_id"),
        "name": mask_name(clear("name_enc")),
        "national_id": mask_national_id(clear("national_id_enc")),
        "phone": mask_phone(clear("phone_enc")),
        "email": mask_email(clear("email_enc")),
        "locale": customer.get("locale"),
    }


def _statements(rows: list[Row]) -> list[dict[str, Any]]:
    money = (
        "credit_limit",
        "statement_balance",
        "minimum_due",
        "amount_paid",
        "purchases",
        "cash_advances",
    )
    return [
        {
            "cycle_date": _day(r["cycle_date"]),
            "due_date": _day(r["due_date"]),
            **{m: _money(r[f"{m}_minor"]) for m in money},
            "repayment_status": r["repayment_status"],
            "days_past_due": r["days_past_due"],
        }
        for r in rows
    ]


def _postings(rows: list[Row]) -> list[dict[str, Any]]:
    return [
        {
            "effective_on": p["effective_on"].isoformat(),
            "effective_at": p["effective_at"].isoformat(),
            "kind": p["kind"],
            "component": p["component"],
            "amount": _money(p["amount_minor"]),
            "currency": p["currency"],
            "source": p["source"],
            "key": p["idempotency_key"],
            "reference": p["reference"],
            "detail": p["detail"],
        }
        for p in rows
    ]


def _balances(row: Row, as_of: dt.date, currency: str) -> dict[str, Any]:
    parts = ("principal", "interest", "fees", "total")
    return {"as_of": as_of.isoformat(), "currency": currency} | {
        p: format_major(int(row.get(p) or 0)) for p in parts
    }


def _reasons(codes: Any, zh: Any, en: Any) -> list[dict[str, str]]:
    return [
        {"code": c, "zh": z, "en": e}
        for c, z, e in zip(_json_list(codes), _json_list(zh), _json_list(en), strict=False)
    ]


def _decision(kind: str, row: Row, action: str, **extra: Any) -> dict[str, Any]:
    """What every decision shows: when, what, the limits, its reasons and versions."""
    return {
        "type": kind,
        "as_of": _day(row["as_of"]),
        "action": row[action],
        **extra,
        "old_limit": _money(row["old_limit_minor"]),
        "new_limit": _money(row["new_limit_minor"]),
        "reasons": _reasons(row["reason_codes"], row["reason_texts_zh"], row["reason_texts_en"]),
        "policy_version": row["policy_version"],
        "model_version": row["model_version"],
    }


def _decisions(records: AccountRecords) -> list[dict[str, Any]]:
    reviews = [
        _decision(
            "limit_review", d, "action", cycle=d["cycle_id"], grade=d["grade"], score=d["score"]
        )
        for d in records.decisions
    ]
    treatments = [
        _decision(
            "overdue_treatment",
            t,
            "treatment",
            bucket=t["bucket"],
            days_past_due=t["days_past_due"],
            risk_level=t["risk_level"],
            limit_action=t["limit_action"],
            penalty_interest=_money(t["penalty_interest_minor"]),
            late_fee=_money(t["late_fee_minor"]),
            fee_waived=_money(t["fee_waived_minor"]),
        )
        for t in records.treatments
    ]
    return sorted([*reviews, *treatments], key=lambda d: (d["as_of"] or "", d["type"]))


def _plans(records: AccountRecords) -> list[dict[str, Any]]:
    events: dict[str, list[dict[str, Any]]] = {}
    for e in records.plan_events:
        events.setdefault(e["plan_id"], []).append(
            {
                "date": _day(e["event_date"]),
                "kind": e["kind"],
                "amount": _money(e["amount_minor"]),
                "outcome": e["outcome"],
                "from_status": e["from_status"],
                "to_status": e["to_status"],
                "reason": e["reason"],
            }
        )
    return [
        {
            "plan_id": p["plan_id"],
            "kind": p["kind"],
            "months": p["months"],
            "principal": _money(p["principal_minor"]),
            "penalty_fees": _money(p["penalty_fees_minor"]),
            "waiver_share": rate_from_bp(p["waiver_share_bp"]),
            "instalments": [
                {"due_date": due, "amount": _money(amount)}
                for due, amount in _json_list(p["instalments"])
            ],
            "offered_on": _day(p["offered_on"]),
            "status": p["status"],
            "status_on": _day(p["status_on"]),
            "status_reason": p["status_reason"],
            "paid": _money(p["paid_minor"]),
            "waived": _money(p["waived_minor"]),
            "reinstated": _money(p["reinstated_minor"]),
            "policy_version": p["policy_version"],
            "events": events.get(p["plan_id"], []),
        }
        for p in records.plans
    ]


def _contacts(records: AccountRecords) -> list[dict[str, Any]]:
    sent = [
        {
            "at": _instant(m["created_at"]),
            "type": m["message_type"],
            "category": m["category"],
            "channel": m["channel"],
            "locale": m["locale"],
            "state": m["state"],
            "sent_at": _instant(m["sent_at"]),
        }
        for m in records.messages
    ]
    logged = [
        {"at": p["effective_at"].isoformat(), "type": "contact", "detail": p["detail"]}
        for p in records.postings
        if p["kind"] == Kind.CONTACT.value
    ]
    return sorted([*sent, *logged], key=lambda c: c["at"] or "")


def _pending_limits(records: AccountRecords) -> list[dict[str, Any]]:
    return [
        {
            "decision_id": p["decision_id"],
            "old_limit": _money(p["old_limit_minor"]),
            "new_limit": _money(p["new_limit_minor"]),
            "decided_on": _day(p["decided_on"]),
            "effective_on": _day(p["effective_on"]),
            "status": p["status"],
            "applied_on": _day(p["applied_on"]),
            "superseded_by": p["superseded_by"],
            "note": p["note"],
        }
        for p in records.pending_limits
    ]


def assemble_story(
    records: AccountRecords, as_of: dt.date, decrypt: Decrypt | None = None, masked: bool = True
) -> dict[str, Any]:
    """The story of ``records`` as of ``as_of``; personal fields decrypted only to be masked
    (``masked=False``: in clear, for the API's callers allowed to see them)."""
    account = records.account
    currency = str(account["currency"])
    pending = _pending_limits(records)
    waiting = [p for p in pending if p["status"] == "pending"]
    return {
        "currency": currency,  # of every amount in the story
        "account": {
            "account_id": account["account_id"],
            "currency": currency,
            "credit_limit": _money(account["credit_limit_minor"]),
            "status": account["status"],
            "grade": account["grade"],
            "segment": account["segment"],
            "customer": _customer(records.customer, decrypt, masked),
            # The decrease in its notice period, if one is: the limit above stands until then.
            "pending_limit": waiting[-1] if waiting else None,
        },
        "as_of": as_of.isoformat(),
        "statements": _statements(records.statements),
        "postings": _postings(records.postings),
        "balances": _balances(records.balance, as_of, currency),
        "decisions": _decisions(records),
        "pending_limit_changes": pending,
        "plans": _plans(records),
        "watch_flags": [
            {
                "cycle_date": _day(f["cycle_date"]),
                "rule": f["rule"],
                "reason_code": f["reason_code"],
                "detail": f["detail"],
            }
            for f in records.watch_flags
        ],
        "contacts": _contacts(records),
    }


def account_story(
    conn: Connection,
    account_id: str,
    as_of: dt.date,
    decrypt: Decrypt | None = None,
    masked: bool = True,
) -> dict[str, Any] | None:
    """The story of ``account_id`` as of ``as_of`` from the store (None: no such account)."""
    records = read_account(conn, account_id, as_of)
    return None if records is None else assemble_story(records, as_of, decrypt, masked)
