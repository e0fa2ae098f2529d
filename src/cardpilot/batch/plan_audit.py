"""What the audit trail holds of a 和谐还款 plan's steps: the offer's terms, and for each later
step what the plan's state machine made of it with the plan's status and amounts before and
after. Appended in the step's own transaction (``jobs.plans``), from the CLI as from the
service; never a customer's name, only ids and figures."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection

from cardpilot.audit.chain import AuditEntry
from cardpilot.store.audit import append_audit, default_actor
from cardpilot.store.repayment_plans import event_outcome, plan_rows

# The columns of an offered plan its audit record keeps.
OFFER_TERMS = (
    "account_id",
    "kind",
    "months",
    "principal_minor",
    "penalty_fees_minor",
    "waiver_share_bp",
    "policy_version",
)


def plan_state(conn: Connection, plan_id: str) -> dict[str, Any]:
    """The plan's status and amounts, as its audit records hold them."""
    plan = plan_rows(conn, plan_id=plan_id)[0]
    return {
        "status": plan.status,
        "currency": plan.currency,
        "paid_minor": int(plan.paid_minor),
        "waived_minor": int(plan.waived_minor),
        "reinstated_minor": int(plan.reinstated_minor),
    }


def audit_offer(
    conn: Connection, plan: Mapping[str, Any], currency: str, actor: str | None, source: str
) -> None:
    """``plan.offer``: the new plan's terms (``plan``: its ``repayment_plans`` row)."""
    terms = {k: plan[k] for k in OFFER_TERMS}
    terms |= {"currency": currency, "offered_on": plan["offered_on"].isoformat()}
    terms["source"] = source
    subject = f"plan:{plan['plan_id']}"
    append_audit(
        conn, AuditEntry(actor or default_actor(), "plan.offer", subject, terms, None, terms)
    )


def audit_step(
    conn: Connection,
    event: Mapping[str, Any],
    before: dict[str, Any],
    actor: str | None,
) -> None:
    """``plan.<kind>``: a new event of the plan (``event``: its ``plan_events`` row before the
    fold), what the state machine made of it and the plan before and after."""
    outcome, reason = event_outcome(conn, event["event_id"]) or (None, None)
    after = plan_state(conn, event["plan_id"])
    payload = {
        "event_id": event["event_id"],
        "on": event["event_date"].isoformat(),
        "currency": after["currency"],
        "amount_minor": event["amount_minor"],
        "source": event["source"],
        "outcome": outcome,
        "reason": reason,
    }
    entry = AuditEntry(
        actor or default_actor(),
        f"plan.{event['kind']}",
        f"plan:{event['plan_id']}",
        payload,
        before,
        after,
    )
    append_audit(conn, entry)
