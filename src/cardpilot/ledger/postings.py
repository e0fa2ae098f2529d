"""Postings: the account's money and events over time, one immutable record each.

A posting never changes once written; a correction is a new posting (a reversal, a waiver, a
reinstatement) that refers to the one it corrects. Money is integer minor units, **signed**: a
positive amount adds to what the cardholder owes, a negative one reduces it. Each kind fixes
its sign, its balance component and whether it counts in a balance at all:

- *charges* (purchase, cash advance, interest, penalty interest, 违约金, other fees) are
  positive; *credits* (payment, refund, fee waiver) negative; a reversal, an opening balance
  and a fee reinstatement take the sign they need;
- *memo* postings carry an amount but move no balance: a statement issued (its closing
  balance, to reconcile against), a plan instalment due or paid (the schedule; the money
  itself arrives as a payment);
- *events* carry no amount: limit changes, freezes, plan events, contacts.

The idempotency key names the posting's origin (``uci:<account>:<cycle>:payment``,
``tx:<transaction id>``, ``treat:<id>:late_fee``): writing the same posting twice adds it once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import polars as pl


class Component(StrEnum):
    """The part of a balance a posting moves."""

    PRINCIPAL = "principal"
    INTEREST = "interest"
    FEES = "fees"


class Source(StrEnum):
    """Where a posting came from."""

    IMPORT = "import"
    DECISION = "decision"
    PLAN_EVENT = "plan_event"
    EVENT = "event"
    MANUAL = "manual"


class Kind(StrEnum):
    PURCHASE = "purchase"
    CASH_ADVANCE = "cash_advance"
    REFUND = "refund"
    PAYMENT = "payment"
    REVERSAL = "reversal"
    OPENING_BALANCE = "opening_balance"
    INTEREST = "interest"
    PENALTY_INTEREST = "penalty_interest"
    LATE_FEE = "late_fee"  # 违约金
    FEE = "fee"  # any other fee the issuer charged (annual, cash-advance fee)
    FEE_WAIVER = "fee_waiver"
    FEE_REINSTATEMENT = "fee_reinstatement"
    INSTALMENT_DUE = "instalment_due"
    INSTALMENT_PAID = "instalment_paid"
    STATEMENT_ISSUED = "statement_issued"
    LIMIT_CHANGE = "limit_change"
    FREEZE = "freeze"
    UNFREEZE = "unfreeze"
    PLAN_EVENT = "plan_event"
    CONTACT = "contact"


class Role(StrEnum):
    """How a kind counts: in a balance (charge, credit, either sign), as a memo, or not at all."""

    CHARGE = "charge"
    CREDIT = "credit"
    SIGNED = "signed"
    MEMO = "memo"
    EVENT = "event"


@dataclass(frozen=True, slots=True)
class KindRule:
    role: Role
    # The component the kind moves; None: any (reversal, waiver, opening balance) or none.
    component: Component | None = None


P, INT, F = Component.PRINCIPAL, Component.INTEREST, Component.FEES
RULES: dict[Kind, KindRule] = {
    Kind.PURCHASE: KindRule(Role.CHARGE, P),
    Kind.CASH_ADVANCE: KindRule(Role.CHARGE, P),
    Kind.REFUND: KindRule(Role.CREDIT, P),
    Kind.PAYMENT: KindRule(Role.CREDIT),
    Kind.REVERSAL: KindRule(Role.SIGNED),
    Kind.OPENING_BALANCE: KindRule(Role.SIGNED),
    Kind.INTEREST: KindRule(Role.CHARGE, INT),
    Kind.PENALTY_INTEREST: KindRule(Role.CHARGE, INT),
    Kind.LATE_FEE: KindRule(Role.CHARGE, F),
    Kind.FEE: KindRule(Role.CHARGE, F),
    Kind.FEE_WAIVER: KindRule(Role.CREDIT),
    Kind.FEE_REINSTATEMENT: KindRule(Role.CHARGE),
    Kind.INSTALMENT_DUE: KindRule(Role.MEMO),
    Kind.INSTALMENT_PAID: KindRule(Role.MEMO),
    Kind.STATEMENT_ISSUED: KindRule(Role.MEMO),
    Kind.LIMIT_CHANGE: KindRule(Role.EVENT),
    Kind.FREEZE: KindRule(Role.EVENT),
    Kind.UNFREEZE: KindRule(Role.EVENT),
    Kind.PLAN_EVENT: KindRule(Role.EVENT),
    Kind.CONTACT: KindRule(Role.EVENT),
}
# Charges a waiver may refer to (per fee: waived never more than charged).
WAIVABLE = frozenset({Kind.LATE_FEE, Kind.FEE, Kind.PENALTY_INTEREST, Kind.INTEREST})
# Charges that accrue on a balance: ``basis`` names the component they accrued on.
ACCRUING = frozenset({Kind.INTEREST, Kind.PENALTY_INTEREST})


def kinds_with(*roles: Role) -> list[str]:
    return [k.value for k, r in RULES.items() if r.role in roles]


class PostingError(ValueError):
    """A posting that breaks its kind's rules (sign, component, amount)."""


@dataclass(frozen=True, slots=True)
class Posting:
    """One line of an account's ledger."""

    account_id: str
    kind: Kind
    effective_at: dt.datetime  # with its time zone: the issuer's, so its date is the business day
    source: Source
    idempotency_key: str
    amount_minor: int | None = None
    currency: str | None = None
    component: Component | None = None
    reference: str | None = None  # the posting (key) this one waives, reverses, pays; a plan id
    basis: Component | None = None  # interest: the component it accrued on
    detail: str | None = None  # events: what changed (JSON text)

    def __post_init__(self) -> None:
        if self.effective_at.tzinfo is None:
            raise PostingError(f"{self.idempotency_key}: effective_at needs a time zone")
        problem = posting_problem(self.kind, self.amount_minor, self.component)
        if problem:
            raise PostingError(f"{self.idempotency_key}: {problem}")

    @property
    def effective_on(self) -> dt.date:
        """The business day (in the time zone the posting was made in)."""
        return self.effective_at.date()


def posting_problem(kind: Kind, amount: int | None, component: Component | None) -> str | None:
    """What is wrong with a posting of ``kind`` (None: nothing)."""
    rule = RULES[kind]
    if rule.role is Role.EVENT:
        return None if amount is None else f"{kind} carries no amount"
    if amount is None:
        return f"{kind} needs an amount"
    if rule.role is Role.MEMO:
        return None
    if component is None:
        return f"{kind} needs a component"
    if rule.component is not None and component is not rule.component:
        return f"{kind} moves {rule.component}, not {component}"
    if rule.role is Role.CHARGE and amount <= 0:
        return f"{kind} is a charge: its amount must be positive"
    if rule.role is Role.CREDIT and amount >= 0:
        return f"{kind} is a credit: its amount must be negative"
    return None


# The store's ``ledger_postings`` columns as a frame (``effective_at`` in UTC).
POSTING_SCHEMA: dict[str, pl.DataType] = {
    "account_id": pl.Utf8(),
    "kind": pl.Utf8(),
    "component": pl.Utf8(),
    "amount_minor": pl.Int64(),
    "currency": pl.Utf8(),
    "effective_at": pl.Datetime("us", "UTC"),
    "effective_on": pl.Date(),
    "source": pl.Utf8(),
    "idempotency_key": pl.Utf8(),
    "reference": pl.Utf8(),
    "basis": pl.Utf8(),
    "detail": pl.Utf8(),
}


def posting_row(p: Posting) -> dict[str, Any]:
    """One posting as a ``ledger_postings`` row (``effective_at`` in UTC)."""
    return {
        "account_id": p.account_id,
        "kind": p.kind.value,
        "component": p.component.value if p.component else None,
        "amount_minor": p.amount_minor,
        "currency": p.currency,
        "effective_at": p.effective_at.astimezone(dt.UTC),
        "effective_on": p.effective_on,
        "source": p.source.value,
        "idempotency_key": p.idempotency_key,
        "reference": p.reference,
        "basis": p.basis.value if p.basis else None,
        "detail": p.detail,
    }


def postings_frame(postings: Iterable[Posting]) -> pl.DataFrame:
    """Posting records as a frame of ``POSTING_SCHEMA`` (in the order given)."""
    return pl.DataFrame([posting_row(p) for p in postings], schema=POSTING_SCHEMA)


def first_per_key(frame: pl.DataFrame) -> pl.DataFrame:
    """What an append-only store with a unique key keeps of ``frame``: each key's first row."""
    return frame.unique("idempotency_key", keep="first", maintain_order=True)
