"""和谐还款: the conditional one-time waiver, as a fold over events.

A customer in difficulty is offered a repayment plan; if they keep it, an agreed share of their
penalty fees (违约金 and penalty interest) is waived. The plan moves through

    offered ─accept─► accepted ─first payment─► active ─all paid─► kept
       │                  │                        │
       └─decline/expire─► declined                 └─instalment missed─► broken

* **kept**: the waiver becomes final.
* **broken**: the waived fees are reinstated, the plan ends and the account returns to its
  segment's treatment.
* The waiver is granted (provisionally) when the plan becomes active, and **at most once per
  customer per policy period**: a broken plan has used the period's chance too, so breaking a
  plan and asking for a new one in the same period is refused. The period is a rolling window
  of ``period_months`` (a policy value) ending on the day asked about: a waiver granted on
  2005-10-05 with a 12-month window blocks another until 2006-10-05, whatever the calendar
  year (a calendar-aligned block would let a plan broken in December be re-offered with a
  fresh waiver in January).
* Acceptance is its own event: no plan starts without the customer's own confirmation
  (银保监规〔2022〕13号 forbids automatic instalments without it; status: to check).

``apply(state, event) -> state`` is pure and deterministic: the same events in the same order
give the same state, and an event whose id was already seen changes nothing (duplicates from a
retried import or a replayed file are harmless). An event the machine cannot take (a payment on
a plan that ended, a second waiver in a period) is recorded as a rejection with its reason and
leaves the plans unchanged, so the audit trail shows it. Events are applied in the order given,
which must be the order they happened (dates are calendar dates in Asia/Shanghai).

A plan counts as missed when, on any dated event, an instalment's due date plus the grace days
has passed and the payments credited so far do not cover every instalment due by then.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import reduce
from types import MappingProxyType

from cardpilot.domain.fees import waived_amount
from cardpilot.domain.plans import add_months


class HarmonyStatus(StrEnum):
    OFFERED = "offered"
    ACCEPTED = "accepted"
    ACTIVE = "active"
    KEPT = "kept"
    BROKEN = "broken"
    DECLINED = "declined"


OPEN_STATUSES = frozenset({HarmonyStatus.OFFERED, HarmonyStatus.ACCEPTED, HarmonyStatus.ACTIVE})
ENDED_STATUSES = frozenset({HarmonyStatus.KEPT, HarmonyStatus.BROKEN, HarmonyStatus.DECLINED})


class HarmonyReason(StrEnum):
    """Why a transition happened, or why an event was refused."""

    OFFERED = "HARMONY_OFFERED"
    CUSTOMER_ACCEPTED = "HARMONY_CUSTOMER_ACCEPTED"
    CUSTOMER_DECLINED = "HARMONY_CUSTOMER_DECLINED"
    OFFER_EXPIRED = "HARMONY_OFFER_EXPIRED"
    FIRST_PAYMENT = "HARMONY_FIRST_PAYMENT"
    ALL_INSTALMENTS_PAID = "HARMONY_ALL_INSTALMENTS_PAID"
    INSTALMENT_MISSED = "HARMONY_INSTALMENT_MISSED"
    # refusals
    WAIVER_USED_IN_PERIOD = "HARMONY_WAIVER_USED_IN_PERIOD"
    PLAN_ALREADY_OPEN = "HARMONY_PLAN_ALREADY_OPEN"
    PLAN_EXISTS = "HARMONY_PLAN_EXISTS"
    UNKNOWN_PLAN = "HARMONY_UNKNOWN_PLAN"
    NOT_ALLOWED_IN_STATUS = "HARMONY_NOT_ALLOWED_IN_STATUS"
    PLAN_ENDED = "HARMONY_PLAN_ENDED"


class HarmonyError(ValueError):
    """An event that is malformed in itself (not one the machine refuses)."""


@dataclass(frozen=True, slots=True)
class Instalment:
    due_date: dt.date
    amount_minor: int


# ------------------------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class Offered:
    event_id: str
    on: dt.date
    plan_id: str
    customer_id: str
    penalty_fees_minor: int
    waiver_share_bp: int
    instalments: tuple[Instalment, ...]
    period_months: int = 12
    grace_days: int = 0
    accept_by: dt.date | None = None

    def __post_init__(self) -> None:
        if not self.instalments:
            raise HarmonyError("a plan needs at least one instalment")
        if any(i.amount_minor < 0 for i in self.instalments) or self.penalty_fees_minor < 0:
            raise HarmonyError("amounts cannot be negative")
        if not 0 <= self.waiver_share_bp <= 10_000:
            raise HarmonyError("the waiver share must be 0..10000 bp")
        if not 1 <= self.period_months <= 120 or self.grace_days < 0:
            raise HarmonyError("period_months must be 1..120 and grace_days ≥ 0")
        if list(self.instalments) != sorted(self.instalments, key=lambda i: i.due_date):
            raise HarmonyError("instalments must be in due-date order")


@dataclass(frozen=True, slots=True)
class Accepted:
    event_id: str
    on: dt.date
    plan_id: str


@dataclass(frozen=True, slots=True)
class Declined:
    event_id: str
    on: dt.date
    plan_id: str


@dataclass(frozen=True, slots=True)
class PaymentReceived:
    event_id: str
    on: dt.date
    plan_id: str
    amount_minor: int

    def __post_init__(self) -> None:
        if self.amount_minor <= 0:
            raise HarmonyError("a payment must be positive")


@dataclass(frozen=True, slots=True)
class DayClosed:
    """The end of a business day: offers expire and missed instalments break plans."""

    event_id: str
    on: dt.date
    plan_id: str


HarmonyEvent = Offered | Accepted | Declined | PaymentReceived | DayClosed


# -------------------------------------------------------------------------------- state


@dataclass(frozen=True, slots=True)
class HarmonyPlan:
    plan_id: str
    customer_id: str
    status: HarmonyStatus
    period_months: int
    offered_on: dt.date
    accept_by: dt.date | None
    penalty_fees_minor: int
    waiver_share_bp: int
    instalments: tuple[Instalment, ...]
    grace_days: int
    paid_minor: int = 0
    waived_minor: int = 0  # granted and standing (provisional while active, final when kept)
    reinstated_minor: int = 0  # charged back when the plan broke
    waiver_on: dt.date | None = None  # the day the waiver was granted (the first payment)

    @property
    def total_due_minor(self) -> int:
        return sum(i.amount_minor for i in self.instalments)

    @property
    def suspends_late_fees(self) -> bool:
        """No late fees while the plan is kept (accepted or active)."""
        return self.status in (HarmonyStatus.ACCEPTED, HarmonyStatus.ACTIVE)

    def missed_on(self, on: dt.date) -> bool:
        """Some instalment's due date + grace has passed and is not covered by payments."""
        due = 0
        for inst in self.instalments:
            if inst.due_date + dt.timedelta(days=self.grace_days) >= on:
                break
            due += inst.amount_minor
        return self.paid_minor < due


@dataclass(frozen=True, slots=True)
class Transition:
    event_id: str
    on: dt.date
    plan_id: str
    from_status: HarmonyStatus | None
    to_status: HarmonyStatus
    reason: HarmonyReason


@dataclass(frozen=True, slots=True)
class Rejection:
    event_id: str
    on: dt.date
    plan_id: str
    reason: HarmonyReason


def _frozen(d: dict[str, HarmonyPlan] | None = None) -> Mapping[str, HarmonyPlan]:
    return MappingProxyType(dict(d or {}))


@dataclass(frozen=True, slots=True)
class HarmonyLedger:
    """Every 和谐还款 plan of one or more customers, and what happened to them."""

    plans: Mapping[str, HarmonyPlan] = field(default_factory=_frozen)
    seen_event_ids: frozenset[str] = frozenset()
    transitions: tuple[Transition, ...] = ()
    rejections: tuple[Rejection, ...] = ()

    def waivers_granted(self, customer_id: str, on: dt.date, period_months: int) -> int:
        """How many plans of the customer had a waiver granted in the ``period_months``
        window ending on ``on`` (0 or 1 by construction)."""
        return sum(
            1
            for p in self.plans.values()
            if p.customer_id == customer_id and waiver_in_window(p.waiver_on, on, period_months)
        )


def waiver_in_window(granted_on: dt.date | None, on: dt.date, period_months: int) -> bool:
    """A waiver granted on ``granted_on`` still counts on ``on`` under a rolling window of
    ``period_months``: ``granted_on <= on < granted_on + period_months``."""
    return granted_on is not None and granted_on <= on < add_months(granted_on, period_months)


# ------------------------------------------------------------------------------ the fold


def _reject(state: HarmonyLedger, event: HarmonyEvent, reason: HarmonyReason) -> HarmonyLedger:
    return replace(
        state,
        seen_event_ids=state.seen_event_ids | {event.event_id},
        rejections=(*state.rejections, Rejection(event.event_id, event.on, event.plan_id, reason)),
    )


def _move(
    state: HarmonyLedger,
    event: HarmonyEvent,
    plan: HarmonyPlan,
    reason: HarmonyReason,
) -> HarmonyLedger:
    old = state.plans.get(plan.plan_id)
    plans = dict(state.plans)
    plans[plan.plan_id] = plan
    transitions = state.transitions
    if old is None or old.status is not plan.status:
        transitions = (
            *transitions,
            Transition(
                event.event_id,
                event.on,
                plan.plan_id,
                None if old is None else old.status,
                plan.status,
                reason,
            ),
        )
    return replace(
        state,
        plans=_frozen(plans),
        seen_event_ids=state.seen_event_ids | {event.event_id},
        transitions=transitions,
    )


def _break(plan: HarmonyPlan) -> HarmonyPlan:
    return replace(
        plan,
        status=HarmonyStatus.BROKEN,
        reinstated_minor=plan.reinstated_minor + plan.waived_minor,
        waived_minor=0,
    )


def _offer(state: HarmonyLedger, e: Offered) -> HarmonyLedger:
    if e.plan_id in state.plans:
        return _reject(state, e, HarmonyReason.PLAN_EXISTS)
    if state.waivers_granted(e.customer_id, e.on, e.period_months):
        return _reject(state, e, HarmonyReason.WAIVER_USED_IN_PERIOD)
    if any(
        p.customer_id == e.customer_id and p.status in OPEN_STATUSES for p in state.plans.values()
    ):
        return _reject(state, e, HarmonyReason.PLAN_ALREADY_OPEN)
    plan = HarmonyPlan(
        plan_id=e.plan_id,
        customer_id=e.customer_id,
        status=HarmonyStatus.OFFERED,
        period_months=e.period_months,
        offered_on=e.on,
        accept_by=e.accept_by,
        penalty_fees_minor=e.penalty_fees_minor,
        waiver_share_bp=e.waiver_share_bp,
        instalments=e.instalments,
        grace_days=e.grace_days,
    )
    return _move(state, e, plan, HarmonyReason.OFFERED)


def _expired(plan: HarmonyPlan, on: dt.date) -> bool:
    return plan.accept_by is not None and on > plan.accept_by


def _dated(state: HarmonyLedger, e: HarmonyEvent, plan: HarmonyPlan) -> HarmonyLedger | None:
    """Effects of time passing before the event: an offer expires, a missed instalment breaks
    the plan. Returns the new state if the plan ended, else ``None``."""
    if plan.status is HarmonyStatus.OFFERED and _expired(plan, e.on):
        plan = replace(plan, status=HarmonyStatus.DECLINED)
        return _move(state, e, plan, HarmonyReason.OFFER_EXPIRED)
    if plan.status in (HarmonyStatus.ACCEPTED, HarmonyStatus.ACTIVE) and plan.missed_on(e.on):
        return _move(state, e, _break(plan), HarmonyReason.INSTALMENT_MISSED)
    return None


def apply(state: HarmonyLedger, event: HarmonyEvent) -> HarmonyLedger:
    """The state after ``event``; the same state if the event id was already seen."""
    if event.event_id in state.seen_event_ids:
        return state
    if isinstance(event, Offered):
        return _offer(state, event)
    plan = state.plans.get(event.plan_id)
    if plan is None:
        return _reject(state, event, HarmonyReason.UNKNOWN_PLAN)
    if plan.status in ENDED_STATUSES:
        return _reject(state, event, HarmonyReason.PLAN_ENDED)
    ended = _dated(state, event, plan)
    if ended is not None:
        if isinstance(event, DayClosed):
            return ended
        # The plan ended before this event took effect: the event itself is refused.
        return _reject(ended, event, HarmonyReason.PLAN_ENDED)
    if isinstance(event, DayClosed):
        return replace(state, seen_event_ids=state.seen_event_ids | {event.event_id})
    if isinstance(event, Declined):
        if plan.status is not HarmonyStatus.OFFERED:
            return _reject(state, event, HarmonyReason.NOT_ALLOWED_IN_STATUS)
        declined = replace(plan, status=HarmonyStatus.DECLINED)
        return _move(state, event, declined, HarmonyReason.CUSTOMER_DECLINED)
    if isinstance(event, Accepted):
        if plan.status is not HarmonyStatus.OFFERED:
            return _reject(state, event, HarmonyReason.NOT_ALLOWED_IN_STATUS)
        if state.waivers_granted(plan.customer_id, event.on, plan.period_months):
            return _reject(state, event, HarmonyReason.WAIVER_USED_IN_PERIOD)
        accepted = replace(plan, status=HarmonyStatus.ACCEPTED)
        return _move(state, event, accepted, HarmonyReason.CUSTOMER_ACCEPTED)
    return _pay(state, event, plan)


def _pay(state: HarmonyLedger, e: PaymentReceived, plan: HarmonyPlan) -> HarmonyLedger:
    if plan.status is HarmonyStatus.OFFERED:
        return _reject(state, e, HarmonyReason.NOT_ALLOWED_IN_STATUS)
    plan = replace(plan, paid_minor=plan.paid_minor + e.amount_minor)
    if plan.status is HarmonyStatus.ACCEPTED:
        # another plan may have taken the window's waiver since acceptance
        if state.waivers_granted(plan.customer_id, e.on, plan.period_months):
            return _reject(state, e, HarmonyReason.WAIVER_USED_IN_PERIOD)
        plan = replace(
            plan,
            status=HarmonyStatus.ACTIVE,
            waived_minor=waived_amount(plan.penalty_fees_minor, plan.waiver_share_bp),
            waiver_on=e.on,
        )
        state = _move(state, e, plan, HarmonyReason.FIRST_PAYMENT)
    if plan.paid_minor >= plan.total_due_minor:
        kept = replace(plan, status=HarmonyStatus.KEPT)
        return _move(state, e, kept, HarmonyReason.ALL_INSTALMENTS_PAID)
    return _move(state, e, plan, HarmonyReason.FIRST_PAYMENT)  # status unchanged: no transition


def fold(events: Iterable[HarmonyEvent], state: HarmonyLedger | None = None) -> HarmonyLedger:
    """Apply ``events`` in order, from an empty ledger unless ``state`` is given."""
    return reduce(apply, events, state if state is not None else HarmonyLedger())
