"""What a notice reports: the small decision interface the notify package builds against.

The review job hands in a ``LimitChangeNotice`` (or a plain dict with the same keys); it does
not need to know templates, channels or the outbox. ``from_limit_decision`` adapts the domain
``LimitDecision`` of the limit review.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from cardpilot.domain.decisions import LimitDecision


@dataclass(frozen=True, slots=True)
class NoticeReason:
    """A decision reason with its plain-language texts (PIPL art. 24: an explanation)."""

    code: str
    text_zh: str
    text_en: str

    def text(self, locale: str) -> str:
        return self.text_zh if locale.startswith("zh") else self.text_en


@dataclass(frozen=True, slots=True)
class LimitBasis:
    """The grade and the rule a limit decision applied, as the notice names them: the grade's
    name in both languages, the policy's increase range or cut for that grade (percent of the
    old limit; None where the policy was not at hand) and the change actually applied."""

    grade: str | None
    grade_zh: str | None = None
    grade_en: str | None = None
    increase_min_pct: Decimal | None = None
    increase_max_pct: Decimal | None = None
    cut_pct: Decimal | None = None
    applied_pct: Decimal | None = None

    def grade_label(self, locale: str) -> str | None:
        return self.grade_zh if locale.startswith("zh") else self.grade_en


@dataclass(frozen=True, slots=True)
class LimitChangeNotice:
    """A limit decision as the customer is told it. Money in integer minor units."""

    decision_id: str
    account_id: str
    customer_id: str
    old_limit_minor: int
    new_limit_minor: int
    currency: str
    effective_date: dt.date
    reasons: tuple[NoticeReason, ...]
    policy_version: str
    message_type: str = "limit_change"
    extra: Mapping[str, Any] = field(default_factory=dict)
    basis: LimitBasis | None = None

    @property
    def action(self) -> str:
        if self.new_limit_minor > self.old_limit_minor:
            return "increase"
        if self.new_limit_minor < self.old_limit_minor:
            return "decrease"
        return "keep"

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> LimitChangeNotice:
        reasons = _reasons(data)
        effective = data["effective_date"]
        if isinstance(effective, str):
            effective = dt.date.fromisoformat(effective)
        return cls(
            decision_id=str(data["decision_id"]),
            account_id=str(data["account_id"]),
            customer_id=str(data["customer_id"]),
            old_limit_minor=int(data["old_limit_minor"]),
            new_limit_minor=int(data["new_limit_minor"]),
            currency=str(data.get("currency", "CNY")),
            effective_date=effective,
            reasons=reasons,
            policy_version=str(data["policy_version"]),
            message_type=str(data.get("message_type", "limit_change")),
        )


def _reasons(data: Mapping[str, Any]) -> tuple[NoticeReason, ...]:
    given = data.get("reasons")
    if given is not None:
        out = []
        for r in given:
            if isinstance(r, NoticeReason):
                out.append(r)
            elif isinstance(r, Mapping):
                out.append(NoticeReason(str(r["code"]), str(r["text_zh"]), str(r["text_en"])))
            else:
                code, text_zh, text_en = r
                out.append(NoticeReason(str(code), str(text_zh), str(text_en)))
        return tuple(out)
    codes: Sequence[str] = data.get("reason_codes", ())
    zh: Sequence[str] = data.get("reason_texts_zh", ())
    en: Sequence[str] = data.get("reason_texts_en", ())
    return tuple(NoticeReason(c, z, e) for c, z, e in zip(codes, zh, en, strict=True))


def as_notice(decision: LimitChangeNotice | Mapping[str, Any]) -> LimitChangeNotice:
    return (
        decision
        if isinstance(decision, LimitChangeNotice)
        else LimitChangeNotice.from_mapping(decision)
    )


def from_limit_decision(
    decision: LimitDecision,
    *,
    decision_id: str,
    customer_id: str,
    currency: str = "CNY",
    effective_date: dt.date | None = None,
) -> LimitChangeNotice:
    """The notice of a limit-review decision; effective on ``as_of`` unless told otherwise."""
    return LimitChangeNotice(
        decision_id=decision_id,
        account_id=decision.account_id,
        customer_id=customer_id,
        old_limit_minor=decision.old_limit_minor,
        new_limit_minor=decision.new_limit_minor,
        currency=currency,
        effective_date=effective_date or decision.as_of,
        reasons=tuple(NoticeReason(r.code, r.text_zh, r.text_en) for r in decision.reasons),
        policy_version=decision.policy_version,
    )


def planned_message_notice(
    row: Mapping[str, Any],
    *,
    message_type: str,
    extra: Mapping[str, Any],
    reasons: tuple[NoticeReason, ...] = (),
) -> LimitChangeNotice:
    """The notice of a planned message that changes no limit (an overdue reminder, an early
    warning): ``row`` is the plan's row (``decision_ref``, ``account_id``, ``customer_id``,
    ``currency``, ``policy_version``, ``due_date``, ``as_of``); it takes effect on the
    statement's due date, or on ``as_of`` when the row has none."""
    return LimitChangeNotice(
        decision_id=row["decision_ref"],
        account_id=row["account_id"],
        customer_id=row["customer_id"],
        old_limit_minor=0,
        new_limit_minor=0,
        currency=row["currency"],
        effective_date=row["due_date"] or row["as_of"],
        reasons=reasons,
        policy_version=row["policy_version"],
        message_type=message_type,
        extra=extra,
    )
