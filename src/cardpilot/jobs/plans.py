"""和谐还款 plans in the store: offer, accept, decline, and the job that advances plans as
payments arrive (issue #7 item 5).

A plan's state is never written directly: every step is an event in ``plan_events`` (unique
``event_id``), and the state is the fold of the customer's events with
``cardpilot.domain.harmony.apply``. After new events are stored, the customer's plans are
re-folded and the results written back: the plan row's status and amounts (a cache of the
fold) and, per event, what the machine made of it (a transition with its reason, a rejection
with its reason, or nothing). Because event ids are unique and the fold orders events by
(date, kind, id), recording the same payment twice, or replaying a payment file, gives the
same state. Each new offer, acceptance or refusal (and a payment recorded by hand) is appended
to the audit trail in its transaction, by the ``actor`` given (``batch.plan_audit``).

``advance_plans(engine, as_of)`` turns the stored payments of each open plan's account into
payment events (``transactions`` of kind ``payment`` when the account has any, otherwise the
statements' ``amount_paid``), adds the day-closed event of ``as_of`` (offers expire, missed
instalments break plans), and folds.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, Row

from cardpilot.batch.plan_audit import audit_offer, audit_step, plan_state
from cardpilot.batch.plan_ledger import post_offer, post_plan_money
from cardpilot.config import get_settings
from cardpilot.domain.fees import OverdueBalances
from cardpilot.domain.harmony import (
    Accepted,
    DayClosed,
    Declined,
    HarmonyEvent,
    HarmonyLedger,
    Instalment,
    Offered,
    PaymentReceived,
    fold,
)
from cardpilot.domain.plans import PlanError, PlanKind, PlanQuote, quote_plan
from cardpilot.domain.waivers import current_balance, schedule_fees, split_waivers
from cardpilot.overdue.charges import assess_charges
from cardpilot.overdue.schema import OverduePolicy
from cardpilot.policy.base import percent_to_bp
from cardpilot.store.audit import audited_transaction
from cardpilot.store.payments import as_zoned
from cardpilot.store.repayment_plans import (
    account_currency,
    account_customer,
    account_payment_transactions,
    as_date,
    customer_events,
    customer_plans,
    event_outcome,
    insert_plan,
    insert_plan_events,
    latest_treatment,
    open_plans,
    plan_customer,
    plan_event_rows,
    plan_rows,
    standing_plan_waivers,
    statement_payments,
    status_counts,
    unpaid_minimum_on,
    write_event_outcome,
    write_plan_state,
)

_RANK = {"offered": 0, "accepted": 1, "declined": 1, "payment": 2, "day_closed": 3}


class PlanStoreError(ValueError):
    """A plan step that cannot be taken: says why and what to do."""


@dataclass
class PlanView:
    plan_id: str
    account_id: str
    customer_id: str
    status: str
    kind: str
    months: int
    currency: str
    principal_minor: int
    penalty_fees_minor: int
    waiver_share_bp: int
    paid_minor: int
    total_due_minor: int
    waived_minor: int
    reinstated_minor: int
    offered_on: dt.date
    accept_by: dt.date | None
    status_on: dt.date | None
    status_reason: str | None
    risk_segment: str | None
    policy_version: str
    instalments: list[dict[str, Any]]
    events: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class AdvanceResult:
    as_of: dt.date
    plans: int = 0  # open plans looked at
    events_added: int = 0
    by_status: dict[str, int] = field(default_factory=dict)  # the plans looked at, after

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _fold_order(row: Any) -> tuple[dt.date, int, int, str]:
    # A customer's own steps of one day in the order given; the rest by event id, so that a
    # replay recorded in another order folds the same.
    rank = _RANK[row.kind]
    return (as_date(row.event_date), rank, row.id if rank == _RANK["accepted"] else 0, row.event_id)


def _opt_date(value: Any) -> dt.date | None:
    return None if value is None else as_date(value)


# --------------------------------------------------------------------------- storing events


def _event_row(
    event_id: str,
    plan_id: str,
    customer_id: str,
    kind: str,
    on: dt.date,
    amount_minor: int | None = None,
    source: str | None = None,
) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "plan_id": plan_id,
        "customer_id": customer_id,
        "kind": kind,
        "event_date": on,
        "amount_minor": amount_minor,
        "source": source,
    }


def record_events(conn: Connection, rows: Sequence[dict[str, Any]]) -> int:
    """Store plan events (duplicates by ``event_id`` are skipped) and re-fold their
    customers; returns how many were new."""
    added = insert_plan_events(conn, rows)
    for customer in sorted({r["customer_id"] for r in rows}):
        refold_customer(conn, customer)
    return added


# --------------------------------------------------------------------------- the fold


def _domain_event(row: Any, plan: Any) -> HarmonyEvent:
    kind, event_id, on, plan_id = row.kind, row.event_id, as_date(row.event_date), row.plan_id
    if kind == "offered":
        instalments = tuple(
            Instalment(dt.date.fromisoformat(d), int(a)) for d, a in json.loads(plan.instalments)
        )
        return Offered(
            event_id=event_id,
            on=on,
            plan_id=plan_id,
            customer_id=plan.customer_id,
            penalty_fees_minor=int(plan.penalty_fees_minor),
            waiver_share_bp=int(plan.waiver_share_bp),
            instalments=instalments,
            period_months=int(plan.period_months),
            grace_days=int(plan.grace_days),
            accept_by=_opt_date(plan.accept_by),
        )
    if kind == "accepted":
        return Accepted(event_id, on, plan_id)
    if kind == "declined":
        return Declined(event_id, on, plan_id)
    if kind == "payment":
        return PaymentReceived(event_id, on, plan_id, int(row.amount_minor))
    return DayClosed(event_id, on, plan_id)


def customer_ledger(conn: Connection, customer_id: str) -> HarmonyLedger:
    """The fold of every stored event of the customer's plans, in (date, kind, id) order."""
    plans = customer_plans(conn, customer_id)
    rows = customer_events(conn, customer_id)
    rows.sort(key=_fold_order)
    return fold(_domain_event(r, plans[r.plan_id]) for r in rows)


def refold_customer(conn: Connection, customer_id: str) -> HarmonyLedger:
    """Fold the customer's events and write the result back to plans and events."""
    ledger = customer_ledger(conn, customer_id)
    for plan in ledger.plans.values():
        last = [t for t in ledger.transitions if t.plan_id == plan.plan_id][-1:]
        write_plan_state(
            conn,
            plan.plan_id,
            {
                "status": plan.status.value,
                "paid": plan.paid_minor,
                "waived": plan.waived_minor,
                "reinstated": plan.reinstated_minor,
                "on": last[0].on if last else None,
                "reason": last[0].reason.value if last else None,
            },
        )
    outcome: dict[str, dict[str, Any]] = {}
    for t in ledger.transitions:
        known = outcome.get(t.event_id)
        outcome[t.event_id] = {
            "outcome": "transition",
            "from_status": known["from_status"]
            if known
            else (t.from_status.value if t.from_status else None),
            "to_status": t.to_status.value,
            "reason": t.reason.value,
        }
    for r in ledger.rejections:
        outcome[r.event_id] = {
            "outcome": "rejected",
            "from_status": None,
            "to_status": None,
            "reason": r.reason.value,
        }
    for event_id in ledger.seen_event_ids:
        values = outcome.get(
            event_id, {"outcome": "none", "from_status": None, "to_status": None, "reason": None}
        )
        write_event_outcome(conn, event_id, values)
    post_plan_money(conn, ledger, customer_plans(conn, customer_id), get_settings().timezone)
    return ledger


# --------------------------------------------------------------------------- offer / accept


def plan_id_for(account_id: str, on: dt.date) -> str:
    """One offer per account and day: offering again the same day is the same plan."""
    return f"HP-{account_id}-{on:%Y%m%d}"


def _offerable(
    t: Row[Any] | None, policy: OverduePolicy, account_id: str, on: dt.date, kind: PlanKind
) -> Row[Any]:
    """The account's latest treatment when it allows a plan of ``kind``; else refused."""
    segments = policy.file.harmony.segments
    if t is None:
        raise PlanStoreError(
            f"account {account_id} has no overdue treatment on or before {on}; "
            "run `cardpilot overdue treat --as-of DATE` first"
        )
    if not t.harmony_eligible or t.risk_segment not in segments:
        raise PlanStoreError(
            f"account {account_id} is in segment {t.risk_segment} (treated {t.as_of}); "
            f"和谐还款 is offered only to {', '.join(segments)}"
        )
    eligible = json.loads(t.eligible_plans)
    if kind.value not in eligible:
        raise PlanStoreError(
            f"segment {t.risk_segment} may take {', '.join(eligible) or 'no'} plans, "
            f"not {kind.value}"
        )
    return t


def _quote(
    policy: OverduePolicy,
    kind: PlanKind,
    principal: int,
    months: int,
    on: dt.date,
    defer_months: int,
) -> PlanQuote:
    """The plan's schedule under the policy's terms for ``kind``; refused outside them."""
    terms = getattr(policy.file.plans, kind.value)
    if not terms.min_months <= months <= terms.max_months:
        raise PlanStoreError(
            f"--months {months}: {kind.value} plans run "
            f"{terms.min_months}..{terms.max_months} months under the policy"
        )
    if principal <= 0 or principal < terms.min_principal_yuan:
        raise PlanStoreError(
            f"overdue balance {principal / 100:.2f} is below the {kind.value} "
            f"minimum {terms.min_principal_yuan / 100:.2f}"
        )
    try:
        return quote_plan(
            kind,
            principal,
            months,
            terms.monthly_rate,
            on,
            defer_months=defer_months if kind is PlanKind.DEFERRAL else 0,
            max_tenor_months=policy.file.plans.max_tenor_months,
        )
    except PlanError as exc:
        raise PlanStoreError(str(exc)) from exc


def _charged(
    conn: Connection, t: Row[Any], policy: OverduePolicy, account_id: str, on: dt.date
) -> int:
    """The penalty fees the treatment ``t`` charged (as stored; recomputed with
    ``assess_charges`` for a decision stored before the charges were)."""
    if t.penalty_interest_minor is not None:
        return int(t.penalty_interest_minor) + int(t.late_fee_minor or 0)
    return assess_charges(
        policy,
        t.risk_segment,
        OverdueBalances(principal_minor=max(0, int(t.overdue_balance_minor))),
        int(t.days_past_due),
        unpaid_minimum_on(conn, account_id, on),
    ).total_minor


def _paid_since(conn: Connection, account_id: str, after: dt.date, up_to: dt.date) -> int:
    """What the account paid in ``(after, up_to]``: its payment transactions when it has
    any, else its statements' amounts paid."""
    txns = account_payment_transactions(conn, account_id)
    if not txns:
        return sum(paid for _, paid in statement_payments(conn, account_id, after, up_to))
    zone = ZoneInfo(get_settings().timezone)
    return sum(
        int(amount)
        for _, posted, amount in txns
        if after < as_zoned(posted, zone).date() <= up_to and int(amount) > 0
    )


def offer_plan(
    db: Engine,
    account_id: str,
    policy: OverduePolicy,
    *,
    on: dt.date,
    kind: PlanKind | str = PlanKind.EQUAL_PRINCIPAL,
    months: int = 6,
    defer_months: int = 1,
    penalty_fees_minor: int | None = None,
    actor: str | None = None,
    source: str = "cli",
) -> PlanView:
    """Offer 和谐还款 on the account's current overdue balance (its latest treatment on or
    before ``on``, less what was paid since): the schedule from the policy's plan terms, the
    waiver share from ``harmony``.

    The fees (``penalty_fees_minor``: what the treatment charged unless given) have one
    waiver source (``domain.waivers``): the plan waives them only when the treatment did not;
    the instalments carry what stays unwaived. The stored ``penalty_fees_minor`` is the part
    the plan's waiver applies to.

    Refused (``PlanStoreError``) for an untreated account, a segment the policy does not offer
    it to (never a high-risk one), a plan kind or tenor the segment's terms do not allow, and
    what the state machine refuses (one open plan per customer, one waiver per period)."""
    plan_kind = PlanKind(kind)
    h = policy.file.harmony
    with audited_transaction(db) as conn:
        customer_id = account_customer(conn, account_id)
        if customer_id is None:
            raise PlanStoreError(f"account {account_id!r} is not in the store")
        t = _offerable(latest_treatment(conn, account_id, on), policy, account_id, on, plan_kind)
        paid = _paid_since(conn, account_id, as_date(t.as_of), on)
        principal = current_balance(int(t.overdue_balance_minor), paid)
        quote = _quote(policy, plan_kind, principal, months, on, defer_months)
        charged = (
            _charged(conn, t, policy, account_id, on)
            if penalty_fees_minor is None
            else penalty_fees_minor
        )
        before = int(t.fee_waived_minor or 0) + standing_plan_waivers(conn, int(t.id))
        waivers = split_waivers(charged, min(charged, before), percent_to_bp(h.waiver_share))
        plan_id = plan_id_for(account_id, on)
        instalments = schedule_fees(
            [(p.due_date, p.total_minor) for p in quote.payments], waivers.unwaived_minor
        )
        row = {
            "plan_id": plan_id,
            "account_id": account_id,
            "customer_id": customer_id,
            "kind": plan_kind.value,
            "months": months,
            "principal_minor": principal,
            "penalty_fees_minor": waivers.plan_waivable_minor,
            "waiver_share_bp": waivers.plan_share_bp,
            "instalments": json.dumps([[d.isoformat(), a] for d, a in instalments]),
            "period_months": h.period_months,
            "grace_days": h.grace_days,
            "offered_on": on,
            "accept_by": on + dt.timedelta(days=h.offer_valid_days),
            "risk_segment": t.risk_segment,
            "treatment_id": int(t.id),
            "policy_version": policy.version,
            "status": "offered",
            "paid_minor": 0,
            "waived_minor": 0,
            "reinstated_minor": 0,
        }
        added = insert_plan(conn, row)
        event = _event_row(f"{plan_id}:offered", plan_id, customer_id, "offered", on, None, source)
        record_events(conn, [event])
        refused = event_outcome(conn, event["event_id"])
        if refused is not None and refused[0] == "rejected":
            # Raising rolls the transaction back: a refused offer leaves no plan behind.
            raise PlanStoreError(f"offer refused: {refused[1]} (customer {customer_id})")
        currency = account_currency(conn, account_id)
        post_offer(conn, t, account_id, plan_id, instalments, currency, get_settings().timezone)
        if added:
            audit_offer(conn, row, currency, actor, source)
    return plan_status(db, plan_id=plan_id)[0]


def _plan_customer(conn: Connection, plan_id: str) -> str:
    customer = plan_customer(conn, plan_id)
    if customer is None:
        raise PlanStoreError(f"plan {plan_id!r} is not in the store (cardpilot plan status)")
    return customer


def plan_event(
    db: Engine,
    plan_id: str,
    kind: str,
    *,
    on: dt.date,
    amount_minor: int | None = None,
    event_id: str | None = None,
    source: str | None = None,
    actor: str | None = None,
) -> PlanView:
    """Record one event of a plan (``accepted``, ``declined``, ``payment``, ``day_closed``)
    and return the plan after the fold. Without ``event_id`` the id is derived from the plan,
    kind and date (accepting twice is one acceptance). A new event is appended to the audit
    trail (``plan.<kind>``, by ``actor``, with the plan's status before and after and what the
    state machine made of it) in its transaction."""
    if kind not in _RANK or kind == "offered":
        raise PlanStoreError(f"unknown plan event {kind!r}")
    if kind == "payment" and (amount_minor is None or amount_minor <= 0):
        raise PlanStoreError("a payment needs a positive amount")
    with audited_transaction(db) as conn:
        customer = _plan_customer(conn, plan_id)
        before = plan_state(conn, plan_id)
        eid = event_id or f"{plan_id}:{kind}:{on.isoformat()}"
        row = _event_row(eid, plan_id, customer, kind, on, amount_minor, source or "cli")
        if record_events(conn, [row]):
            audit_step(conn, row, before, actor)
    return plan_status(db, plan_id=plan_id)[0]


def accept_plan(
    db: Engine, plan_id: str, *, on: dt.date, actor: str | None = None, source: str = "cli"
) -> PlanView:
    """The customer's own confirmation (银保监规〔2022〕13号, to check: no plan without it)."""
    return plan_event(
        db, plan_id, "accepted", on=on, event_id=f"{plan_id}:accepted", source=source, actor=actor
    )


def decline_plan(
    db: Engine, plan_id: str, *, on: dt.date, actor: str | None = None, source: str = "cli"
) -> PlanView:
    return plan_event(
        db, plan_id, "declined", on=on, event_id=f"{plan_id}:declined", source=source, actor=actor
    )


# --------------------------------------------------------------------------- advancing


def _payments(conn: Connection, plan: Any, as_of: dt.date, zone: ZoneInfo) -> list[dict[str, Any]]:
    """Payment events of the plan's account after the offer date up to ``as_of``: its
    payment transactions when it has any, else its statements' amounts paid (dated on their
    cycle dates)."""
    offered_on = as_date(plan.offered_on)
    txns = account_payment_transactions(conn, plan.account_id)
    if not txns:
        return [
            _event_row(
                f"{plan.plan_id}:stmt:{day.isoformat()}",
                plan.plan_id,
                plan.customer_id,
                "payment",
                day,
                paid,
                f"statement:{plan.account_id}:{day.isoformat()}",
            )
            for day, paid in statement_payments(conn, plan.account_id, offered_on, as_of)
        ]
    rows: list[dict[str, Any]] = []
    for tid, posted, amount in txns:
        day = as_zoned(posted, zone).date()
        if offered_on < day <= as_of and int(amount) > 0:
            rows.append(
                _event_row(
                    f"{plan.plan_id}:txn:{tid}",
                    plan.plan_id,
                    plan.customer_id,
                    "payment",
                    day,
                    int(amount),
                    f"transaction:{tid}",
                )
            )
    return rows


def advance_plans(db: Engine, as_of: dt.date, *, timezone: str | None = None) -> AdvanceResult:
    """Turn the stored payments of every open plan into events, close the day ``as_of`` and
    fold: plans become active, kept or broken; offers expire. Idempotent per payment and day.
    ``timezone``: the issuer's, in which payments are dated (default ``CARDPILOT_TIMEZONE``)."""
    zone = ZoneInfo(timezone or get_settings().timezone)
    result = AdvanceResult(as_of=as_of)
    with db.begin() as conn:
        plans = open_plans(conn, as_of)
        rows: list[dict[str, Any]] = []
        for plan in plans:
            rows.extend(_payments(conn, plan, as_of, zone))
            rows.append(
                _event_row(
                    f"{plan.plan_id}:day_closed:{as_of.isoformat()}",
                    plan.plan_id,
                    plan.customer_id,
                    "day_closed",
                    as_of,
                    None,
                    "advance_plans",
                )
            )
        result.plans = len(plans)
        result.events_added = record_events(conn, rows)
        result.by_status = status_counts(conn, [p.plan_id for p in plans])
    return result


# --------------------------------------------------------------------------- reading


def _view(plan: Row[Any], events: list[Row[Any]]) -> PlanView:
    instalments = json.loads(plan.instalments)
    return PlanView(
        plan_id=plan.plan_id,
        account_id=plan.account_id,
        customer_id=plan.customer_id,
        status=plan.status,
        kind=plan.kind,
        months=int(plan.months),
        currency=plan.currency,
        principal_minor=int(plan.principal_minor),
        penalty_fees_minor=int(plan.penalty_fees_minor),
        waiver_share_bp=int(plan.waiver_share_bp),
        paid_minor=int(plan.paid_minor),
        total_due_minor=sum(int(a) for _, a in instalments),
        waived_minor=int(plan.waived_minor),
        reinstated_minor=int(plan.reinstated_minor),
        offered_on=as_date(plan.offered_on),
        accept_by=_opt_date(plan.accept_by),
        status_on=_opt_date(plan.status_on),
        status_reason=plan.status_reason,
        risk_segment=plan.risk_segment,
        policy_version=plan.policy_version,
        instalments=[{"due_date": d, "amount_minor": int(a)} for d, a in instalments],
        events=[
            {
                "event_id": e.event_id,
                "kind": e.kind,
                "on": as_date(e.event_date).isoformat(),
                "amount_minor": e.amount_minor,
                "source": e.source,
                "outcome": e.outcome,
                "from_status": e.from_status,
                "to_status": e.to_status,
                "reason": e.reason,
            }
            for e in events
        ],
    )


def plan_status(
    db: Engine, *, plan_id: str | None = None, account_id: str | None = None
) -> list[PlanView]:
    """Plans (one, an account's, or all) with their events in fold order."""
    with db.connect() as conn:
        return [
            _view(p, sorted(plan_event_rows(conn, p.plan_id), key=_fold_order))
            for p in plan_rows(conn, plan_id=plan_id, account_id=account_id)
        ]
