"""和谐还款 plans in the store: offer, accept, decline, and the job that advances plans as
payments arrive (issue #7 item 5).

A plan's state is never written directly: every step is an event in ``plan_events`` (unique
``event_id``), and the state is the fold of the customer's events with
``cardpilot.domain.harmony.apply``. After new events are stored, the customer's plans are
re-folded and the results written back: the plan row's status and amounts (a cache of the
fold) and, per event, what the machine made of it (a transition with its reason, a rejection
with its reason, or nothing). Because event ids are unique and the fold orders events by
(date, kind, id), recording the same payment twice, or replaying a payment file, gives the
same state.

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

from sqlalchemy import Connection, Engine, text
from sqlalchemy.dialects import postgresql, sqlite

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
from cardpilot.domain.plans import PlanError, PlanKind, quote_plan
from cardpilot.overdue.charges import assess_charges
from cardpilot.overdue.schema import OverduePolicy
from cardpilot.policy.base import percent_to_bp
from cardpilot.store.overdue_models import PlanEvent, RepaymentPlan

OPEN = ("offered", "accepted", "active")
_RANK = {"offered": 0, "accepted": 1, "declined": 1, "payment": 2, "day_closed": 3}
LOCAL_ZONE = ZoneInfo("Asia/Shanghai")  # calendar dates of payments (docs/overdue.md)


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


def as_date(value: Any) -> dt.date:
    """A date from what a driver returns (a date, a datetime, or ISO text on SQLite)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def _opt_date(value: Any) -> dt.date | None:
    return None if value is None else as_date(value)


# --------------------------------------------------------------------------- storing events


def _insert_ignore(conn: Connection, table: Any, rows: list[dict[str, Any]], key: str) -> int:
    """Insert rows, skipping those whose ``key`` is already stored; returns rows added."""
    if not rows:
        return 0
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = (
        dialect.insert(table).on_conflict_do_nothing(index_elements=[key]).returning(table.c[key])
    )
    added = 0
    for row in rows:  # one by one: a returned key tells a new row from a known one
        added += len(conn.execute(stmt, row).all())
    return added


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
    added = _insert_ignore(conn, PlanEvent.__table__, list(rows), "event_id")
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
    plans = {
        r.plan_id: r
        for r in conn.execute(
            text("SELECT * FROM repayment_plans WHERE customer_id = :c"), {"c": customer_id}
        )
    }
    rows = list(
        conn.execute(
            text(
                "SELECT event_id, plan_id, kind, event_date, amount_minor FROM plan_events"
                " WHERE customer_id = :c"
            ),
            {"c": customer_id},
        )
    )
    rows.sort(key=lambda r: (as_date(r.event_date), _RANK[r.kind], r.event_id))
    return fold(_domain_event(r, plans[r.plan_id]) for r in rows)


def refold_customer(conn: Connection, customer_id: str) -> HarmonyLedger:
    """Fold the customer's events and write the result back to plans and events."""
    ledger = customer_ledger(conn, customer_id)
    for plan in ledger.plans.values():
        last = [t for t in ledger.transitions if t.plan_id == plan.plan_id][-1:]
        conn.execute(
            text(
                "UPDATE repayment_plans SET status = :status, paid_minor = :paid,"
                " waived_minor = :waived, reinstated_minor = :reinstated,"
                " status_on = :on, status_reason = :reason WHERE plan_id = :plan"
            ),
            {
                "status": plan.status.value,
                "paid": plan.paid_minor,
                "waived": plan.waived_minor,
                "reinstated": plan.reinstated_minor,
                "on": last[0].on if last else None,
                "reason": last[0].reason.value if last else None,
                "plan": plan.plan_id,
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
        conn.execute(
            text(
                "UPDATE plan_events SET outcome = :outcome, from_status = :from_status,"
                " to_status = :to_status, reason = :reason WHERE event_id = :event_id"
            ),
            {**values, "event_id": event_id},
        )
    return ledger


# --------------------------------------------------------------------------- offer / accept


def _latest_treatment(conn: Connection, account_id: str, on: dt.date) -> Any:
    return conn.execute(
        text(
            "SELECT t.id, t.as_of, t.risk_segment, t.risk_level, t.harmony_eligible,"
            " t.eligible_plans, t.days_past_due, t.overdue_balance_minor, t.policy_version"
            " FROM overdue_treatments t WHERE t.account_id = :a AND t.as_of <= :on"
            " ORDER BY t.as_of DESC LIMIT 1"
        ),
        {"a": account_id, "on": on},
    ).first()


def _unpaid_minimum(conn: Connection, account_id: str, on: dt.date) -> int:
    row = conn.execute(
        text(
            "SELECT minimum_due_minor, amount_paid_minor FROM statements"
            " WHERE account_id = :a AND cycle_date <= :on ORDER BY cycle_date DESC LIMIT 1"
        ),
        {"a": account_id, "on": on},
    ).first()
    if row is None or row[0] is None:
        return 0
    return max(0, int(row[0]) - int(row[1] or 0))


def plan_id_for(account_id: str, on: dt.date) -> str:
    """One offer per account and day: offering again the same day is the same plan."""
    return f"HP-{account_id}-{on:%Y%m%d}"


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
) -> PlanView:
    """Offer 和谐还款 on the account's overdue balance (its latest treatment on or before
    ``on``): the schedule from the policy's plan terms, the waiver share from ``harmony``.

    Refused (``PlanStoreError``) for an untreated account, a segment the policy does not offer
    it to (never a high-risk one), a plan kind or tenor the segment's terms do not allow, and
    what the state machine refuses (one open plan per customer, one waiver per period)."""
    plan_kind = PlanKind(kind)
    h = policy.file.harmony
    with db.begin() as conn:
        account = conn.execute(
            text("SELECT customer_id FROM accounts WHERE account_id = :a"), {"a": account_id}
        ).first()
        if account is None:
            raise PlanStoreError(f"account {account_id!r} is not in the store")
        customer_id = str(account[0])
        t = _latest_treatment(conn, account_id, on)
        if t is None:
            raise PlanStoreError(
                f"account {account_id} has no overdue treatment on or before {on}; "
                "run `cardpilot overdue treat --as-of DATE` first"
            )
        if not t.harmony_eligible or t.risk_segment not in h.segments:
            raise PlanStoreError(
                f"account {account_id} is in segment {t.risk_segment} (treated {t.as_of}); "
                f"和谐还款 is offered only to {', '.join(h.segments)}"
            )
        eligible = json.loads(t.eligible_plans)
        if plan_kind.value not in eligible:
            raise PlanStoreError(
                f"segment {t.risk_segment} may take {', '.join(eligible) or 'no'} plans, "
                f"not {plan_kind.value}"
            )
        terms = getattr(policy.file.plans, plan_kind.value)
        principal = int(t.overdue_balance_minor)
        if not terms.min_months <= months <= terms.max_months:
            raise PlanStoreError(
                f"--months {months}: {plan_kind.value} plans run "
                f"{terms.min_months}..{terms.max_months} months under the policy"
            )
        if principal <= 0 or principal < terms.min_principal_yuan:
            raise PlanStoreError(
                f"overdue balance {principal / 100:.2f} is below the {plan_kind.value} "
                f"minimum {terms.min_principal_yuan / 100:.2f}"
            )
        try:
            quote = quote_plan(
                plan_kind,
                principal,
                months,
                terms.monthly_rate,
                on,
                defer_months=defer_months if plan_kind is PlanKind.DEFERRAL else 0,
                max_tenor_months=policy.file.plans.max_tenor_months,
            )
        except PlanError as exc:
            raise PlanStoreError(str(exc)) from exc
        if penalty_fees_minor is None:
            charges = assess_charges(
                policy,
                t.risk_segment,
                OverdueBalances(principal_minor=principal),
                int(t.days_past_due),
                _unpaid_minimum(conn, account_id, on),
            )
            penalty_fees_minor = charges.total_minor
        plan_id = plan_id_for(account_id, on)
        instalments = [[p.due_date.isoformat(), p.total_minor] for p in quote.payments]
        row = {
            "plan_id": plan_id,
            "account_id": account_id,
            "customer_id": customer_id,
            "kind": plan_kind.value,
            "months": months,
            "principal_minor": principal,
            "penalty_fees_minor": penalty_fees_minor,
            "waiver_share_bp": percent_to_bp(h.waiver_share),
            "instalments": json.dumps(instalments),
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
        _insert_ignore(conn, RepaymentPlan.__table__, [row], "plan_id")
        event = _event_row(f"{plan_id}:offered", plan_id, customer_id, "offered", on, None, "cli")
        record_events(conn, [event])
        refused = conn.execute(
            text("SELECT outcome, reason FROM plan_events WHERE event_id = :e"),
            {"e": event["event_id"]},
        ).first()
        if refused is not None and refused[0] == "rejected":
            # Raising rolls the transaction back: a refused offer leaves no plan behind.
            raise PlanStoreError(f"offer refused: {refused[1]} (customer {customer_id})")
    return plan_status(db, plan_id=plan_id)[0]


def _plan_customer(conn: Connection, plan_id: str) -> str:
    row = conn.execute(
        text("SELECT customer_id FROM repayment_plans WHERE plan_id = :p"), {"p": plan_id}
    ).first()
    if row is None:
        raise PlanStoreError(f"plan {plan_id!r} is not in the store (cardpilot plan status)")
    return str(row[0])


def plan_event(
    db: Engine,
    plan_id: str,
    kind: str,
    *,
    on: dt.date,
    amount_minor: int | None = None,
    event_id: str | None = None,
    source: str | None = None,
) -> PlanView:
    """Record one event of a plan (``accepted``, ``declined``, ``payment``, ``day_closed``)
    and return the plan after the fold. Without ``event_id`` the id is derived from the plan,
    kind and date (accepting twice is one acceptance)."""
    if kind not in _RANK or kind == "offered":
        raise PlanStoreError(f"unknown plan event {kind!r}")
    if kind == "payment" and (amount_minor is None or amount_minor <= 0):
        raise PlanStoreError("a payment needs a positive amount")
    with db.begin() as conn:
        customer = _plan_customer(conn, plan_id)
        eid = event_id or f"{plan_id}:{kind}:{on.isoformat()}"
        record_events(
            conn, [_event_row(eid, plan_id, customer, kind, on, amount_minor, source or "cli")]
        )
    return plan_status(db, plan_id=plan_id)[0]


def accept_plan(db: Engine, plan_id: str, *, on: dt.date) -> PlanView:
    """The customer's own confirmation (银保监规〔2022〕13号, to check: no plan without it)."""
    return plan_event(db, plan_id, "accepted", on=on, event_id=f"{plan_id}:accepted")


def decline_plan(db: Engine, plan_id: str, *, on: dt.date) -> PlanView:
    return plan_event(db, plan_id, "declined", on=on, event_id=f"{plan_id}:declined")


# --------------------------------------------------------------------------- advancing


def _payments(conn: Connection, plan: Any, as_of: dt.date) -> list[dict[str, Any]]:
    """Payment events of the plan's account after the offer date up to ``as_of``."""
    offered_on = as_date(plan.offered_on)
    txns = list(
        conn.execute(
            text(
                "SELECT transaction_id, posted_at, amount_minor FROM transactions"
                " WHERE account_id = :a AND kind = 'payment' ORDER BY posted_at"
            ),
            {"a": plan.account_id},
        )
    )
    rows: list[dict[str, Any]] = []
    if txns:
        for tid, posted, amount in txns:
            stamp = posted if isinstance(posted, dt.datetime) else dt.datetime.fromisoformat(posted)
            if stamp.tzinfo is None:
                stamp = stamp.replace(tzinfo=dt.UTC)
            day = stamp.astimezone(LOCAL_ZONE).date()
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
    # No transactions: a statement's amount paid, dated on its cycle date.
    for cycle, paid in conn.execute(
        text(
            "SELECT cycle_date, amount_paid_minor FROM statements WHERE account_id = :a"
            " AND cycle_date > :lo AND cycle_date <= :hi AND amount_paid_minor > 0"
            " ORDER BY cycle_date"
        ),
        {"a": plan.account_id, "lo": offered_on, "hi": as_of},
    ):
        day = as_date(cycle)
        rows.append(
            _event_row(
                f"{plan.plan_id}:stmt:{day.isoformat()}",
                plan.plan_id,
                plan.customer_id,
                "payment",
                day,
                int(paid),
                f"statement:{plan.account_id}:{day.isoformat()}",
            )
        )
    return rows


def advance_plans(db: Engine, as_of: dt.date) -> AdvanceResult:
    """Turn the stored payments of every open plan into events, close the day ``as_of`` and
    fold: plans become active, kept or broken; offers expire. Idempotent per payment and day."""
    result = AdvanceResult(as_of=as_of)
    with db.begin() as conn:
        plans = list(
            conn.execute(
                text(
                    "SELECT plan_id, account_id, customer_id, offered_on FROM repayment_plans"
                    " WHERE status IN ('offered', 'accepted', 'active') AND offered_on <= :d"
                    " ORDER BY plan_id"
                ),
                {"d": as_of},
            )
        )
        rows: list[dict[str, Any]] = []
        for plan in plans:
            rows.extend(_payments(conn, plan, as_of))
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
        ids = [p.plan_id for p in plans]
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            marks = ", ".join(f":p{i}" for i in range(len(part)))
            for status, n in conn.execute(
                text(
                    f"SELECT status, COUNT(*) FROM repayment_plans WHERE plan_id IN ({marks})"
                    " GROUP BY status"
                ),
                {f"p{i}": p for i, p in enumerate(part)},
            ):
                result.by_status[str(status)] = result.by_status.get(str(status), 0) + int(n)
    return result


# --------------------------------------------------------------------------- reading


def plan_status(
    db: Engine, *, plan_id: str | None = None, account_id: str | None = None
) -> list[PlanView]:
    """Plans (one, an account's, or all) with their events in fold order."""
    where, params = "", {}
    if plan_id is not None:
        where, params = "WHERE plan_id = :p", {"p": plan_id}
    elif account_id is not None:
        where, params = "WHERE account_id = :a", {"a": account_id}
    views: list[PlanView] = []
    with db.connect() as conn:
        for p in conn.execute(
            text(f"SELECT * FROM repayment_plans {where} ORDER BY offered_on, plan_id"), params
        ):
            events = sorted(
                conn.execute(
                    text(
                        "SELECT event_id, kind, event_date, amount_minor, source, outcome,"
                        " from_status, to_status, reason FROM plan_events WHERE plan_id = :p"
                    ),
                    {"p": p.plan_id},
                ),
                key=lambda r: (as_date(r.event_date), _RANK[r.kind], r.event_id),
            )
            instalments = json.loads(p.instalments)
            views.append(
                PlanView(
                    plan_id=p.plan_id,
                    account_id=p.account_id,
                    customer_id=p.customer_id,
                    status=p.status,
                    kind=p.kind,
                    months=int(p.months),
                    principal_minor=int(p.principal_minor),
                    penalty_fees_minor=int(p.penalty_fees_minor),
                    waiver_share_bp=int(p.waiver_share_bp),
                    paid_minor=int(p.paid_minor),
                    total_due_minor=sum(int(a) for _, a in instalments),
                    waived_minor=int(p.waived_minor),
                    reinstated_minor=int(p.reinstated_minor),
                    offered_on=as_date(p.offered_on),
                    accept_by=_opt_date(p.accept_by),
                    status_on=_opt_date(p.status_on),
                    status_reason=p.status_reason,
                    risk_segment=p.risk_segment,
                    policy_version=p.policy_version,
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
            )
    return views
