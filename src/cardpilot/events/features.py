"""Each account's running features, folded from its events, for the early-warning rules.

``apply_event`` moves an ``AccountFeatures`` on by one event, in place: the reference the
consumer's column-wise fold of a whole batch (``events.batch_features``) is proven equal to,
and the fold it uses for an account with an event beyond the window. What it tracks:

- **payment before or after the due date**: the latest statement's minimum due and due date,
  what has been paid since that statement, and the day the minimum was covered
  (``payment_days_before_due``: positive early, negative late, None not yet);
- **spending against the average**: purchases and cash advances (less refunds and reversals)
  per calendar month in the issuer's time zone; this month's spending over the average of the
  ``spending_average_months`` months before it (``spend_ratio_bp``, basis points);
- **cash advances**: the last one's day and this cycle's count;
- **utilisation**: the balance now (the latest statement's, plus the money events after it) over
  the credit limit, in basis points, and its change since the statement.

An event that arrives after a later one (within the policy's late window) lands where it
belongs: spending is bucketed by the month it happened in, and the money events of the last
window are kept (``recent``) so a late statement counts only what happened after it. The fold
is therefore the same whatever the order the events arrive in within the window.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from dataclasses import dataclass, field
from typing import Any

from cardpilot.domain.money import BP
from cardpilot.events.schema import (
    CashAdvance,
    ContactOutcome,
    Event,
    Payment,
    Purchase,
    Refund,
    Reversal,
    StatementIssued,
)

SPENDING = frozenset({"purchase", "cash_advance"})


@dataclass(frozen=True, slots=True)
class Recent:
    """A money event of the late window: when, how much it moved the balance, what it paid."""

    at: dt.datetime
    balance_minor: int
    paid_minor: int
    cash_advance: bool = False


@dataclass(slots=True)
class AccountFeatures:
    account_id: str
    last_sequence: int = 0
    last_occurred_at: dt.datetime | None = None  # UTC
    events_applied: int = 0
    currency: str | None = None
    statement_at: dt.datetime | None = None  # UTC
    statement_balance_minor: int = 0
    credit_limit_minor: int | None = None
    minimum_due_minor: int = 0
    due_date: dt.date | None = None
    balance_since_statement_minor: int = 0
    paid_since_statement_minor: int = 0
    minimum_paid_on: dt.date | None = None
    last_payment_on: dt.date | None = None
    utilisation_at_statement_bp: int | None = None
    spend_by_month: tuple[tuple[str, int], ...] = ()
    first_month: str | None = None
    last_cash_advance_on: dt.date | None = None
    cash_advances_this_cycle: int = 0
    last_contact_outcome: str | None = None
    last_contact_at: dt.datetime | None = None  # UTC
    recent: tuple[Recent, ...] = field(default=())

    # --- derived ---------------------------------------------------------------------------

    @property
    def balance_minor(self) -> int:
        return self.statement_balance_minor + self.balance_since_statement_minor

    @property
    def utilisation_bp(self) -> int | None:
        if not self.credit_limit_minor:
            return None
        return self.balance_minor * BP // self.credit_limit_minor

    @property
    def utilisation_change_bp(self) -> int | None:
        now, then = self.utilisation_bp, self.utilisation_at_statement_bp
        return None if now is None or then is None else now - then

    @property
    def payment_days_before_due(self) -> int | None:
        if self.minimum_paid_on is None or self.due_date is None:
            return None
        return (self.due_date - self.minimum_paid_on).days

    def spend_ratio_bp(self, months: int) -> int | None:
        """This month's spending over the average of the ``months`` months before it."""
        if not self.spend_by_month or self.first_month is None:
            return None
        current, spent = self.spend_by_month[-1]
        earlier = [_month_index(m) for m in (current, self.first_month)]
        history = min(months, earlier[0] - earlier[1])
        if history <= 0:
            return None
        window = {_month_index(current) - k for k in range(1, history + 1)}
        total = sum(v for m, v in self.spend_by_month if _month_index(m) in window)
        if total <= 0:
            return None
        return spent * BP * history // total

    def as_record(self, months: int) -> dict[str, Any]:
        """The state (JSON-safe, one canonical form) with the derived features."""
        return {**self.stored(), "derived": self.derived(months)}

    def stored(self) -> dict[str, Any]:
        """The state as stored: what ``features_from_json`` reads back."""
        return {
            "account_id": self.account_id,
            "last_sequence": self.last_sequence,
            "last_occurred_at": _iso(self.last_occurred_at),
            "events_applied": self.events_applied,
            "currency": self.currency,
            "statement_at": _iso(self.statement_at),
            "statement_balance_minor": self.statement_balance_minor,
            "credit_limit_minor": self.credit_limit_minor,
            "minimum_due_minor": self.minimum_due_minor,
            "due_date": _iso(self.due_date),
            "balance_since_statement_minor": self.balance_since_statement_minor,
            "paid_since_statement_minor": self.paid_since_statement_minor,
            "minimum_paid_on": _iso(self.minimum_paid_on),
            "last_payment_on": _iso(self.last_payment_on),
            "utilisation_at_statement_bp": self.utilisation_at_statement_bp,
            "spend_by_month": [list(p) for p in self.spend_by_month],
            "first_month": self.first_month,
            "last_cash_advance_on": _iso(self.last_cash_advance_on),
            "cash_advances_this_cycle": self.cash_advances_this_cycle,
            "last_contact_outcome": self.last_contact_outcome,
            "last_contact_at": _iso(self.last_contact_at),
            "recent": [
                [_iso(r.at), r.balance_minor, r.paid_minor, r.cash_advance] for r in self.recent
            ],
        }

    def derived(self, months: int) -> dict[str, Any]:
        """What the early-warning rules read, worked out from the state."""
        return {
            "balance_minor": self.balance_minor,
            "utilisation_bp": self.utilisation_bp,
            "utilisation_change_bp": self.utilisation_change_bp,
            "payment_days_before_due": self.payment_days_before_due,
            "spend_ratio_bp": self.spend_ratio_bp(months),
        }

    def trigger_row(self, tz: dt.tzinfo, months: int) -> dict[str, Any]:
        """What the early-warning rules read of this state, as of its latest event's day
        (``warning.triggers.STATE_SCHEMA`` names; what events do not tell is left out)."""
        latest = self.last_occurred_at
        as_of = latest.astimezone(tz).date() if latest else None
        ratio, use = self.spend_ratio_bp(months), self.utilisation_bp
        unpaid = max(self.minimum_due_minor - self.paid_since_statement_minor, 0)
        cash = self.last_cash_advance_on
        return {
            "as_of": as_of,
            "account_id": self.account_id,
            "currency": self.currency,
            "cycle_date": self.statement_at.astimezone(tz).date() if self.statement_at else None,
            "due_date": self.due_date,
            "statement_balance_minor": self.statement_balance_minor if self.statement_at else None,
            "minimum_due_minor": self.minimum_due_minor if self.statement_at else None,
            "unpaid_minimum_minor": unpaid if self.statement_at else None,
            "utilisation": None if use is None else use / BP,
            "spend_to_6m_average": None if ratio is None else ratio / BP,
            "days_since_cash_advance": (as_of - cash).days if cash and as_of else None,
        }

    def to_json(self) -> str:
        return json.dumps(self.stored(), separators=(",", ":"))


def _iso(value: dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


@functools.lru_cache(maxsize=4096)
def _month_index(month: str) -> int:
    year, mon = month.split("-")
    return int(year) * 12 + int(mon) - 1


def features_from_json(text: str) -> AccountFeatures:
    """The state ``to_json`` stored (the derived features are recomputed, not read)."""
    r = json.loads(text)
    at = dt.datetime.fromisoformat
    day = dt.date.fromisoformat

    def opt(conv: Any, key: str) -> Any:
        return None if r.get(key) is None else conv(r[key])

    return AccountFeatures(
        account_id=r["account_id"],
        last_sequence=r["last_sequence"],
        last_occurred_at=opt(at, "last_occurred_at"),
        events_applied=r["events_applied"],
        currency=r["currency"],
        statement_at=opt(at, "statement_at"),
        statement_balance_minor=r["statement_balance_minor"],
        credit_limit_minor=r["credit_limit_minor"],
        minimum_due_minor=r["minimum_due_minor"],
        due_date=opt(day, "due_date"),
        balance_since_statement_minor=r["balance_since_statement_minor"],
        paid_since_statement_minor=r["paid_since_statement_minor"],
        minimum_paid_on=opt(day, "minimum_paid_on"),
        last_payment_on=opt(day, "last_payment_on"),
        utilisation_at_statement_bp=r["utilisation_at_statement_bp"],
        spend_by_month=tuple((m, v) for m, v in r["spend_by_month"]),
        first_month=r["first_month"],
        last_cash_advance_on=opt(day, "last_cash_advance_on"),
        cash_advances_this_cycle=r["cash_advances_this_cycle"],
        last_contact_outcome=r["last_contact_outcome"],
        last_contact_at=opt(at, "last_contact_at"),
        recent=tuple(Recent(at(a), b, p, c) for a, b, p, c in r["recent"]),
    )


def money_effect(event: Event) -> tuple[int, int, int]:
    """(balance change, payment, spending change) of a money event."""
    match event:
        case Purchase() | CashAdvance():
            return event.amount_minor, 0, event.amount_minor
        case Refund():
            return -event.amount_minor, 0, -event.amount_minor
        case Payment():
            return -event.amount_minor, event.amount_minor, 0
        case Reversal():
            if event.reversed_type in SPENDING:
                return -event.amount_minor, 0, -event.amount_minor
            paid = -event.amount_minor if event.reversed_type == "payment" else 0
            return event.amount_minor, paid, 0
    return 0, 0, 0


def _add_spend(
    state: AccountFeatures, month: str, amount: int, keep: int
) -> tuple[tuple[tuple[str, int], ...], str]:
    buckets = dict(state.spend_by_month)
    buckets[month] = buckets.get(month, 0) + amount
    latest = max(_month_index(m) for m in buckets)
    kept = sorted((m, v) for m, v in buckets.items() if latest - _month_index(m) <= keep)
    first = month if state.first_month is None else min(state.first_month, month)
    return tuple(kept), first


def _covered_on(state: AccountFeatures, tz: dt.tzinfo) -> dt.date | None:
    """The day the payments since the statement first covered its minimum due (None: not yet).

    The payments of the late window are walked in time order, starting from what was paid
    before it; a minimum covered before the window keeps the day found then.
    """
    if state.due_date is None or state.minimum_due_minor <= 0:
        return None
    after = sorted(
        (r for r in state.recent if state.statement_at is None or r.at > state.statement_at),
        key=lambda r: r.at,
    )
    running = state.paid_since_statement_minor - sum(r.paid_minor for r in after)
    if running >= state.minimum_due_minor:
        return state.minimum_paid_on
    for r in after:
        running += r.paid_minor
        if r.paid_minor > 0 and running >= state.minimum_due_minor:
            return r.at.astimezone(tz).date()
    return None


def _apply_money(
    state: AccountFeatures, event: Event, tz: dt.tzinfo, at: dt.datetime, months: int
) -> None:
    local = at.astimezone(tz)
    balance, paid, spend = money_effect(event)
    if spend:
        state.spend_by_month, state.first_month = _add_spend(
            state, f"{local.year:04d}-{local.month:02d}", spend, months
        )
    after_statement = state.statement_at is None or at > state.statement_at
    if after_statement:
        state.balance_since_statement_minor += balance
        state.paid_since_statement_minor += paid
    if isinstance(event, Payment):
        last = state.last_payment_on
        state.last_payment_on = local.date() if last is None else max(last, local.date())
    cash = isinstance(event, CashAdvance)
    if cash:
        last = state.last_cash_advance_on
        state.last_cash_advance_on = local.date() if last is None else max(last, local.date())
        if after_statement:
            state.cash_advances_this_cycle += 1
    state.recent = (*state.recent, Recent(at, balance, paid, cash))
    if paid:
        state.minimum_paid_on = _covered_on(state, tz)


def _apply_statement(
    state: AccountFeatures, event: StatementIssued, at: dt.datetime, tz: dt.tzinfo
) -> None:
    if state.statement_at is not None and at <= state.statement_at:
        return  # an older statement than the one held: the ledger keeps it, no more
    after = [r for r in state.recent if r.at > at]
    limit = event.credit_limit_minor
    state.currency = event.currency
    state.statement_at = at
    state.statement_balance_minor = event.statement_balance_minor
    state.credit_limit_minor = limit
    state.minimum_due_minor = event.minimum_due_minor
    state.due_date = event.due_date
    state.balance_since_statement_minor = sum(r.balance_minor for r in after)
    state.paid_since_statement_minor = sum(r.paid_minor for r in after)
    state.minimum_paid_on = None
    state.utilisation_at_statement_bp = event.statement_balance_minor * BP // limit
    state.cash_advances_this_cycle = sum(1 for r in after if r.cash_advance)
    state.minimum_paid_on = _covered_on(state, tz)


def apply_event(
    state: AccountFeatures, event: Event, tz: dt.tzinfo, months: int, window: dt.timedelta
) -> AccountFeatures:
    """``state`` moved on by ``event``, in place (the caller has checked the event's order and
    that it is new); returns it."""
    at = event.occurred_at.astimezone(dt.UTC)
    if isinstance(event, StatementIssued):
        _apply_statement(state, event, at, tz)
    elif isinstance(event, ContactOutcome):
        if state.last_contact_at is None or at >= state.last_contact_at:
            state.last_contact_outcome, state.last_contact_at = event.outcome, at
    else:
        _apply_money(state, event, tz, at, months)
    latest = at if state.last_occurred_at is None else max(state.last_occurred_at, at)
    horizon = latest - window
    state.last_sequence = max(state.last_sequence, event.sequence)
    state.last_occurred_at = latest
    state.events_applied += 1
    recent = state.recent
    # Kept in time order, within the window: sorted again only when an event arrived out of
    # order or the oldest one left the window (the order is kept after every event).
    if recent and (recent[0].at < horizon or (len(recent) > 1 and recent[-1].at < recent[-2].at)):
        state.recent = tuple(sorted((r for r in recent if r.at >= horizon), key=_at))
    return state


def _at(r: Recent) -> dt.datetime:
    return r.at
