"""A customer's request for more credit, decided now by the same policy and model.

A **permanent** increase is the review's own decision for the account today, as if its review
were due (``decide_limits``: the grade's increase range and caps, every guard — overdue, cooling
after a change, months on book): granted when that decision is an increase, at most what it
allows (``capped`` when that is less than asked), declined with the decision's reasons
otherwise. A **temporary** limit follows the purchases' ``temporary_limit`` product: the grade
the account has today must be one of its grades, the amount at most its share of the limit
(rounded down to the limit step), the period at most its months; it expires on its date. Pure.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cardpilot.domain.money import BP, format_major
from cardpilot.domain.plans import add_months
from cardpilot.policy.base import percent_to_bp
from cardpilot.policy.customer import CustomerPolicy

MAX_REASONS = 4


class RequestError(ValueError):
    """A request that cannot be decided as asked: names the value and what is allowed."""


@dataclass(frozen=True)
class RequestDecision:
    kind: str  # permanent | temporary
    action: str  # granted | declined
    grade: str | None
    score: int | None
    old_limit_minor: int
    new_limit_minor: int | None
    temporary_limit_minor: int | None
    expires_on: dt.date | None
    reasons: tuple[tuple[str, str, str], ...]  # (code, zh-CN, en)


def _text(texts: Mapping[str, Mapping[str, str]], code: str, **values: Any) -> tuple[str, str, str]:
    text = texts.get(code, {})
    return (
        code,
        text.get("zh-CN", code).format(**values),
        text.get("en", code).format(**values),
    )


def _review_reasons(review: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    return list(
        zip(
            review["reason_codes"],
            review["reason_texts_zh"],
            review["reason_texts_en"],
            strict=True,
        )
    )


def decide_permanent(
    review: Mapping[str, Any],
    requested_minor: int,
    customer: CustomerPolicy,
) -> RequestDecision:
    """``review``: the account's decision row today (``DECISION_SCHEMA``, due for review)."""
    assert customer.requests is not None
    old = int(review["old_limit_minor"])
    if requested_minor <= old:
        raise RequestError(
            f"--amount {format_major(requested_minor)}: a permanent increase asks for a limit"
            f" above the current {format_major(old)}"
        )
    texts = customer.reason_texts()
    common = {"grade": review["grade"], "score": review["score"], "old_limit_minor": old}
    if review["action"] != "increase":
        return RequestDecision(
            "permanent", "declined", **common, new_limit_minor=None,
            temporary_limit_minor=None, expires_on=None,
            reasons=tuple(_review_reasons(review)[:MAX_REASONS]),
        )  # fmt: skip
    new = min(requested_minor, int(review["new_limit_minor"]))
    first = (
        _text(texts, customer.requests.granted_reason)
        if new == requested_minor
        else _text(texts, customer.requests.capped_reason, limit=format_major(new))
    )
    return RequestDecision(
        "permanent", "granted", **common, new_limit_minor=new, temporary_limit_minor=None,
        expires_on=None, reasons=tuple([first, *_review_reasons(review)][:MAX_REASONS]),
    )  # fmt: skip


def decide_temporary(
    review: Mapping[str, Any],
    requested_minor: int,
    months: int,
    customer: CustomerPolicy,
    today: dt.date,
    limit_step_minor: int,
) -> RequestDecision:
    """A temporary limit of ``requested_minor`` on top of the limit, for ``months`` months."""
    assert customer.requests is not None
    assert customer.purchases is not None
    if requested_minor <= 0 or months <= 0:
        raise RequestError("--amount and --months must be positive for a temporary limit")
    product = customer.purchases.temporary_limit
    reasons = customer.purchases.reasons
    texts = customer.reason_texts()
    old = int(review["old_limit_minor"])
    refused = []
    if review["grade"] not in product.grades:
        refused.append(_text(texts, reasons.grade_not_eligible))
    cap = old * percent_to_bp(product.max_pct_of_limit) // BP // limit_step_minor * limit_step_minor
    amount = requested_minor // limit_step_minor * limit_step_minor
    if amount > cap or amount <= 0:
        refused.append(_text(texts, reasons.above_temporary_cap, cap=format_major(cap)))
    if months > product.months:
        refused.append(_text(texts, customer.requests.period_reason, months=product.months))
    common = {"grade": review["grade"], "score": review["score"], "old_limit_minor": old}
    if refused:
        return RequestDecision(
            "temporary", "declined", **common, new_limit_minor=None,
            temporary_limit_minor=None, expires_on=None, reasons=tuple(refused[:MAX_REASONS]),
        )  # fmt: skip
    expires = add_months(today, months)
    granted = _text(
        texts,
        customer.requests.temporary_granted_reason,
        amount=format_major(amount),
        expires=expires.isoformat(),
    )
    return RequestDecision(
        "temporary", "granted", **common, new_limit_minor=None, temporary_limit_minor=amount,
        expires_on=expires, reasons=(granted,),
    )  # fmt: skip
