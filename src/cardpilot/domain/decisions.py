"""Limit decisions as domain values: what the review decided for one account, and why.

The vectorised engine (``cardpilot.policy.limits``) produces tables; these types are the
one-account view the API and notices use. A decision records the policy version and the model
version that made it, so it can be explained and reproduced later (PIPL art. 24).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class LimitAction(StrEnum):
    """What a review does to a limit."""

    INCREASE = "increase"
    KEEP = "keep"
    DECREASE = "decrease"


class InitialAction(StrEnum):
    """What happens to an application's limit."""

    OFFER = "offer"
    DECLINE = "decline"
    REFER = "refer"  # no score: a person decides


@dataclass(frozen=True, slots=True)
class Reason:
    """A reason code with its plain-language texts."""

    code: str
    text_zh: str
    text_en: str

    def text(self, locale: str) -> str:
        return self.text_zh if locale == "zh-CN" else self.text_en


@dataclass(frozen=True, slots=True)
class LimitDecision:
    """One account's review decision. Money in integer minor units (fen)."""

    account_id: str
    as_of: dt.date
    due_for_review: bool
    grade: str | None
    segment: str | None
    action: LimitAction
    score: int | None
    pd: float | None
    old_limit_minor: int
    new_limit_minor: int
    increase_pct_bp: int | None
    reasons: tuple[Reason, ...]
    policy_version: str
    model_version: str | None

    @property
    def reason_codes(self) -> tuple[str, ...]:
        return tuple(r.code for r in self.reasons)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> LimitDecision:
        """From one row of the decision table (``cardpilot.policy.limits.DECISION_SCHEMA``)."""
        reasons = tuple(
            Reason(code, zh, en)
            for code, zh, en in zip(
                row["reason_codes"], row["reason_texts_zh"], row["reason_texts_en"], strict=True
            )
        )
        return cls(
            account_id=str(row["account_id"]),
            as_of=row["as_of"],
            due_for_review=bool(row["due_for_review"]),
            grade=row["grade"],
            segment=row["segment"],
            action=LimitAction(row["action"]),
            score=row["score"],
            pd=row["pd"],
            old_limit_minor=int(row["old_limit_minor"]),
            new_limit_minor=int(row["new_limit_minor"]),
            increase_pct_bp=row["increase_pct_bp"],
            reasons=reasons,
            policy_version=str(row["policy_version"]),
            model_version=row["model_version"],
        )
