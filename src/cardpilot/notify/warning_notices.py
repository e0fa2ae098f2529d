"""Early-warning interventions as stored decisions and as notices in the outbox.

``intervention_rows`` turns the interventions a run decided (``warning.triggers`` rows joined
to the account's statement figures) into ``warning_interventions`` rows: the reasons with
their zh-CN and en texts (the rule's from warning.yaml, the model's from the scoring
package), the repayment advice in the customer's own figures (``warning.advice``, with the
overdue policy's revolving rate and plan terms), the end of a hold on increases.
``queue_warning_notices`` queues the message of each intervention that sends one, on the
intervention's channels in the customer's order of preference, in the caller's transaction;
its reference is the intervention's ``decision_ref``, so a re-run queues nothing twice.
Quiet hours and the per-customer cap are the dispatcher's (notify.yaml), as for every
service message.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from cardpilot.notify.compose import Composer
from cardpilot.notify.notice import LimitChangeNotice, NoticeReason, planned_message_notice
from cardpilot.notify.outbox import enqueue_notices, message_key
from cardpilot.notify.prefs import ContactPrefs, load_prefs
from cardpilot.notify.reasons import has_statement, statement_texts
from cardpilot.notify.reminder_notices import currency_name_zh, yuan
from cardpilot.overdue.reminders import reminders_of
from cardpilot.overdue.schema import OverduePolicy
from cardpilot.scoring.reasons import reason_text
from cardpilot.store.outbox_rows import queued_keys
from cardpilot.warning.advice import PlanTerms, RepaymentAdvice, repayment_advice
from cardpilot.warning.policy import Intervention, WarningPolicy


class WarningPlanError(ValueError):
    """A plan warning.yaml offers that the overdue policy's plan terms do not allow."""


def plan_terms(overdue: OverduePolicy, kind: str, months: int, defer_months: int) -> PlanTerms:
    """The overdue policy's terms of a ``kind`` plan over ``months`` (checked against them)."""
    plans = overdue.file.plans
    terms = getattr(plans, kind)
    if not terms.min_months <= months <= terms.max_months:
        raise WarningPlanError(
            f"warning.yaml offers a {kind} plan over {months} months; overdue policy "
            f"{overdue.version} allows {terms.min_months}..{terms.max_months}"
        )
    if defer_months > getattr(terms, "max_defer_months", defer_months):
        raise WarningPlanError(
            f"warning.yaml defers {defer_months} months; overdue policy {overdue.version} "
            f"allows at most {terms.max_defer_months}"
        )
    return PlanTerms(
        kind=kind,
        months=months,
        monthly_rate=terms.monthly_rate,
        min_principal_minor=terms.min_principal_yuan,
        defer_months=defer_months,
        max_tenor_months=plans.max_tenor_months,
    )


@dataclass(frozen=True)
class AdviceTerms:
    """What the advice of a run quotes, per intervention (checked once per run)."""

    daily_rate: Decimal
    cycle_days: int
    plans: dict[str, PlanTerms | None]  # intervention code -> the plan its message quotes

    @classmethod
    def of(cls, warning: WarningPolicy, overdue: OverduePolicy) -> AdviceTerms:
        revolving = reminders_of(overdue).revolving
        default = plan_terms(overdue, warning.file.advice.plan, warning.file.advice.months, 0)
        plans: dict[str, PlanTerms | None] = {}
        for code, action in warning.file.interventions.items():
            if action.kind == "hold_increases":
                plans[code] = None
            elif action.kind == "plan_offer":
                assert action.plan is not None
                assert action.months is not None
                plans[code] = plan_terms(overdue, action.plan, action.months, action.defer_months)
            else:
                plans[code] = default
        return cls(revolving.daily_rate, revolving.cycle_days, plans)


def reason_entries(codes: list[str], warning: WarningPolicy) -> list[dict[str, str]]:
    """``[{code, zh-CN, en}]``: warning.yaml's texts for a rule's reason; for a model's, the
    customer statement where the code has one (``notify.reasons``), else the scoring
    package's text; a code known to none is kept as itself."""
    out = []
    for code in codes:
        texts = warning.file.reasons.get(code)
        if texts is not None:
            out.append({"code": code, "zh-CN": texts.zh_cn, "en": texts.en})
            continue
        if has_statement(code):
            out.append({"code": code, **statement_texts(code)})
            continue
        try:
            out.append(
                {"code": code, "zh-CN": reason_text(code, "zh-CN"), "en": reason_text(code, "en")}
            )
        except KeyError:
            out.append({"code": code, "zh-CN": code, "en": code})
    return out


def _advice(row: dict[str, Any], terms: AdviceTerms, plan: PlanTerms | None) -> RepaymentAdvice:
    return repayment_advice(
        statement_balance_minor=int(row["statement_balance_minor"] or 0),
        minimum_due_minor=int(row["minimum_due_minor"] or 0),
        unpaid_minimum_minor=int(row["unpaid_minimum_minor"] or 0),
        due_date=row["due_date"],
        daily_rate=terms.daily_rate,
        cycle_days=terms.cycle_days,
        plan=plan,
        start=row["due_date"] or row["as_of"],
    )


def intervention_rows(
    fired: list[dict[str, Any]], warning: WarningPolicy, terms: AdviceTerms
) -> list[dict[str, Any]]:
    """``warning_interventions`` rows of ``fired`` (trigger rows with the statement figures:
    ``statement_balance_minor``, ``minimum_due_minor``, ``unpaid_minimum_minor``,
    ``due_date``)."""
    rows = []
    for f in fired:
        action = warning.file.interventions[f["intervention"]]
        plan = terms.plans[f["intervention"]]
        advice = None
        if action.kind != "hold_increases":  # every message quotes the customer's figures
            figures = _advice(f, terms, plan).as_json()
            advice = {"currency": f["currency"], **figures}
        hold = None
        if action.hold_days is not None:
            hold = f["as_of"] + dt.timedelta(days=action.hold_days)
        rows.append(
            {
                "decision_ref": f["decision_ref"],
                "account_id": f["account_id"],
                "customer_id": f["customer_id"],
                "as_of": f["as_of"],
                "cycle_date": f["cycle_date"],
                "rule": f["rule"],
                "intervention": f["intervention"],
                "kind": f["kind"],
                "priority": f["priority"],
                "reasons": reason_entries(list(f["reason_codes"] or []), warning),
                "advice": advice,
                "score": f["score"],
                "score_change": f["score_change"],
                "hold_until": hold,
                "policy_version": f["policy_version"],
                "model_version": f["model_version"],
                "currency": f["currency"],
                "due_date": f["due_date"],
            }
        )
    return rows


def _pct(rate: Decimal) -> str:
    return f"{(rate * 100).quantize(Decimal('0.01'))}"


def notice_extra(row: dict[str, Any], action: Intervention, terms: AdviceTerms) -> dict[str, Any]:
    """What the early_warning templates see besides the composer's own keys."""
    advice = row["advice"] or {}
    plan = advice.get("plan")
    offer = action.texts
    return {
        "offer_zh": offer.zh_cn,
        "offer_en": offer.en,
        "kind": action.kind,
        "currency": row["currency"],
        "currency_zh": currency_name_zh(row["currency"]),
        "statement_balance": yuan(advice.get("statement_balance_minor", 0)),
        "minimum_due": yuan(advice.get("minimum_due_minor", 0)),
        "unpaid_minimum": yuan(advice.get("unpaid_minimum_minor", 0)),
        "unpaid_minimum_minor": advice.get("unpaid_minimum_minor", 0),
        "interest_saved": yuan(advice.get("interest_saved_minor", 0)),
        "interest_saved_minor": advice.get("interest_saved_minor", 0),
        "revolving_rate_pct": f"{(terms.daily_rate * 100).normalize():f}",
        "plan": None
        if plan is None
        else {
            "kind": plan["kind"],
            "months": plan["months"],
            "defer_months": plan["defer_months"],
            "monthly_payment": yuan(plan["monthly_payment_minor"]),
            "total_fee": yuan(plan["total_fee_minor"]),
            "apr_pct": _pct(Decimal(plan["apr"])),
        },
    }


def build_notices(
    rows: list[dict[str, Any]], warning: WarningPolicy, terms: AdviceTerms
) -> list[LimitChangeNotice]:
    """The notices of the interventions of ``rows`` that send a message."""
    notices = []
    for row in rows:
        action = warning.file.interventions[row["intervention"]]
        if action.message_type is None:
            continue
        reasons = tuple(NoticeReason(r["code"], r["zh-CN"], r["en"]) for r in row["reasons"])
        notices.append(
            planned_message_notice(
                row,
                message_type=action.message_type,
                extra=notice_extra(row, action, terms),
                reasons=reasons,
            )
        )
    return notices


@dataclass
class QueuedWarnings:
    inserted: int = 0  # outbox rows inserted
    existing: int = 0  # outbox rows an earlier run had inserted
    unsent: int = 0  # interventions with no channel left (no address on any channel)
    by_channel: Counter[str] = field(default_factory=Counter)


def _channels(action: Intervention, prefs: ContactPrefs, composer: Composer) -> tuple[str, ...]:
    assert action.message_type is not None
    allowed = tuple(action.channels or composer.policy.message_types[action.message_type].channels)
    chosen = tuple(c for c in (prefs.channels or ()) if c in allowed)
    return chosen or allowed


def queue_warning_notices(
    conn: Connection,
    rows: list[dict[str, Any]],
    warning: WarningPolicy,
    terms: AdviceTerms,
    composer: Composer,
    now: dt.datetime,
) -> QueuedWarnings:
    """Queue the messages of ``rows`` in ``conn``'s transaction (see the module)."""
    notices = build_notices(rows, warning, terms)
    out = QueuedWarnings()
    if not notices:
        return out
    action_of = {r["decision_ref"]: warning.file.interventions[r["intervention"]] for r in rows}
    session = Session(bind=conn)
    try:
        prefs = dict(load_prefs(session, {n.customer_id for n in notices}))
        groups: dict[tuple[str, ...], list[LimitChangeNotice]] = {}
        for n in notices:
            p = prefs.get(n.customer_id, ContactPrefs())
            groups.setdefault(_channels(action_of[n.decision_id], p, composer), []).append(n)
        for chosen, group in groups.items():
            keys = [message_key(n.decision_id, n.message_type, c) for n in group for c in chosen]
            before = queued_keys(conn, keys)
            offered = set(
                enqueue_notices(
                    session, group, prefs=prefs, channels=chosen, composer=composer, now=now
                )
            )
            for n in group:
                mine = {c: message_key(n.decision_id, n.message_type, c) for c in chosen}
                if not offered.intersection(mine.values()):
                    out.unsent += 1
                    continue
                for channel, key in mine.items():
                    if key in offered and key not in before:
                        out.inserted += 1
                        out.by_channel[channel] += 1
                    elif key in offered:
                        out.existing += 1
        session.flush()
    finally:
        session.close()
    return out
