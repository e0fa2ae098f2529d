"""Reminders and education messages as notices, queued on the channels their rules name.

A planned message (``overdue.reminders.plan_reminders`` rows) becomes a notice whose template
sees the account's figures (``notice_context``: amounts in major units, rates as percentages,
the segment's late fee and penalty rate) and, for the minimum-payment illustration, the
repayment figures. Its reference is the plan's ``decision_ref``, so the outbox key (and a
re-run's ``ON CONFLICT DO NOTHING``) queues nothing twice.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Any

import polars as pl
from babel.numbers import get_currency_name
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from cardpilot.notify.compose import Composer
from cardpilot.notify.notice import LimitChangeNotice, planned_message_notice
from cardpilot.notify.outbox import enqueue_notices, message_key
from cardpilot.notify.prefs import ContactPrefs, load_prefs
from cardpilot.overdue.reminders import education_figures, reminders_of
from cardpilot.overdue.schema import OverduePolicy, Segment
from cardpilot.store.outbox_rows import queued_keys


@lru_cache(maxsize=64)
def currency_name_zh(code: str) -> str:
    """``CNY`` → 人民币, ``TWD`` → 新台币 (Babel; cached: parsing a locale is slow)."""
    return str(get_currency_name(code, locale="zh_CN"))


def _pct(rate: Decimal) -> str:
    """A rate as a percentage, exact and without trailing zeros (0.0005 → ``0.05``)."""
    return f"{(rate * 100).normalize():f}"


def yuan(amount_minor: int) -> str:
    """Integer minor units → a decimal string in major units (``123456`` → ``1234.56``)."""
    sign = "-" if amount_minor < 0 else ""
    whole, cents = divmod(abs(int(amount_minor)), 100)
    return f"{sign}{whole}.{cents:02d}"


def policy_terms(policy: OverduePolicy) -> dict[str | None, dict[str, Any]]:
    """The policy's figures the templates quote, per risk segment (``None``: an untreated
    account, quoted with the ``fee_basis_segment``'s late fee and penalty rate). Computed once
    per run, not per message."""
    reminders = reminders_of(policy)
    charges = policy.file.charges
    cap = charges.fee_cap_share_of_principal
    common = {
        "interest_on_fees": charges.interest_on_fees,
        "compound_penalty": charges.compound_penalty,
        "fee_cap_pct": None if cap is None else _pct(cap / 100),
        "revolving_rate_pct": _pct(reminders.revolving.daily_rate),
        "cycle_days": reminders.revolving.cycle_days,
        "share_pct": _pct(reminders.minimum_payment.share_of_principal / 100),
        "floor": yuan(reminders.minimum_payment.floor_yuan),
        "includes_interest": reminders.minimum_payment.includes_interest_and_fees,
        "max_years": reminders.revolving.max_months // 12,
    }

    def of(segment: Segment) -> dict[str, Any]:
        fee = segment.treatment.late_fee
        rate = min(segment.treatment.penalty_rate_daily, charges.penalty_rate_cap_daily)
        return {
            **common,
            "penalty_rate_pct": _pct(rate),
            "late_fee_pct": _pct(fee.rate),
            "late_fee_min": yuan(fee.min_yuan) if fee.min_yuan else None,
            "late_fee_max": yuan(fee.max_yuan) if fee.max_yuan else None,
        }

    terms: dict[str | None, dict[str, Any]] = {s.code: of(s) for s in policy.file.segments}
    terms[None] = terms[reminders.fee_basis_segment]
    return terms


def notice_context(
    row: dict[str, Any],
    policy: OverduePolicy,
    terms: dict[str | None, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """What the templates of a planned message see (besides the composer's own keys): amounts
    as decimal strings in major units, rates as percentages, the day counts. The late fee and
    penalty rate are the account's segment's (the ``fee_basis_segment``'s when untreated)."""
    terms = terms or policy_terms(policy)
    as_of: dt.date = row["as_of"]
    due: dt.date | None = row["due_date"]
    return {
        **(terms.get(row["risk_segment"]) or terms[None]),
        "rule": row["rule"],
        "currency": row["currency"],
        "currency_zh": currency_name_zh(row["currency"]),
        "statement_balance": yuan(max(row["statement_balance_minor"], 0)),
        "minimum_due": yuan(row["minimum_due_minor"]),
        "unpaid_minimum": yuan(row["unpaid_minimum_minor"]),
        "days_past_due": int(row["days_past_due"]),
        "days_to_due": None if due is None else (due - as_of).days,
        "bucket": row["bucket"],
        "risk_segment": row["risk_segment"],
    }


def _education_context(figures: dict[str, Any]) -> dict[str, Any]:
    months = figures["months"]
    return {
        "repaid": months is not None,
        "months": months,
        "years": None if months is None else months // 12,
        "rest_months": None if months is None else months % 12,
        "first_minimum": yuan(figures["first_minimum_minor"]),
        "total_interest": yuan(figures["total_interest_minor"]),
        "total_paid": yuan(figures["total_paid_minor"]),
    }


def build_notices(plan: pl.DataFrame, policy: OverduePolicy) -> list[LimitChangeNotice]:
    """The notices of planned messages (``plan_reminders`` rows). ``effective_date`` is the
    statement's due date (templates show it as the due date), the reference is the plan's
    ``decision_ref`` and the recorded policy version the overdue policy's."""
    figures = education_figures(plan, policy)
    terms = policy_terms(policy)
    notices = []
    for row in plan.iter_rows(named=True):
        extra = notice_context(row, policy, terms)
        if row["decision_ref"] in figures:
            extra.update(_education_context(figures[row["decision_ref"]]))
        notices.append(planned_message_notice(row, message_type=row["message_type"], extra=extra))
    return notices


def _channels(
    row_channels: list[str] | None, prefs: ContactPrefs, composer: Composer, message_type: str
) -> tuple[str, ...]:
    """The rule's channels (else the message type's), in the customer's order of preference."""
    mt = composer.policy.message_types.get(message_type)
    allowed = tuple(row_channels) if row_channels else (mt.channels if mt else ())
    if prefs.channels:
        chosen = tuple(c for c in prefs.channels if c in allowed)
        if chosen:
            return chosen
    return allowed


@dataclass
class QueuedReminders:
    inserted: int = 0  # outbox rows inserted
    existing: int = 0  # outbox rows an earlier run had inserted
    unsent: int = 0  # planned messages with no channel left (opted out, no address)
    by_type: Counter[str] = field(default_factory=Counter)  # inserted per message type


def _by_channels(
    notices: list[LimitChangeNotice],
    plan: pl.DataFrame,
    prefs: dict[str, ContactPrefs],
    composer: Composer,
) -> dict[tuple[str, ...], list[LimitChangeNotice]]:
    """The notices grouped by the channels each goes on."""
    channels_of = dict(zip(plan["decision_ref"], plan["channels"].to_list(), strict=True))
    groups: dict[tuple[str, ...], list[LimitChangeNotice]] = {}
    for n in notices:
        p = prefs.get(n.customer_id, ContactPrefs())
        chosen = _channels(channels_of[n.decision_id], p, composer, n.message_type)
        groups.setdefault(chosen, []).append(n)
    return groups


def queue_reminders(
    conn: Connection,
    plan: pl.DataFrame,
    policy: OverduePolicy,
    composer: Composer,
    now: dt.datetime,
) -> QueuedReminders:
    """Queue the plan's notices in ``conn``'s transaction, each on its rule's channels (else
    its message type's) in the customer's order of preference."""
    notices = build_notices(plan, policy)
    out = QueuedReminders()
    session = Session(bind=conn)
    try:
        prefs = dict(load_prefs(session, {n.customer_id for n in notices}))
        for chosen, group in _by_channels(notices, plan, prefs, composer).items():
            candidates = [
                message_key(n.decision_id, n.message_type, c) for n in group for c in chosen
            ]
            before = queued_keys(conn, candidates)
            offered = set(
                enqueue_notices(
                    session, group, prefs=prefs, channels=chosen, composer=composer, now=now
                )
            )
            for n in group:
                mine = [message_key(n.decision_id, n.message_type, c) for c in chosen]
                if not offered.intersection(mine):
                    out.unsent += 1  # opted out, not opted in, or no address on any channel
                    continue
                new = [k for k in mine if k in offered and k not in before]
                out.inserted += len(new)
                out.existing += sum(1 for k in mine if k in offered and k in before)
                out.by_type[n.message_type] += len(new)
        session.flush()
    finally:
        session.close()
    return out
