"""The policy file schema: Pydantic v2 models for ``limits.yaml`` and ``reasons.yaml``.

Policy is data: grades, limit ranges, overdue triggers, guards, caps, segments and reason texts
live in files a risk analyst can read and diff; this module only says what a valid file is.

Conventions the models enforce, so an error names the field that is wrong:

* Money, percentages and codes follow ``cardpilot.policy.base`` (shared with ``overdue.yaml``):
  money in yuan under keys ending in ``_yuan``, held as integer fen in attributes ending in
  ``_minor``; percentages 0–100, to basis points half to even.
* Conditions are the one condition language of ``cardpilot.policy.condition_syntax``.
* Ranges are ordered (``min <= max``); grades are listed best first and their score (or PD)
  bands are contiguous and cover the whole scale, so every score falls in exactly one grade.
* Limit amounts are multiples of the rounding step, so rounding never leaves a range.
* No condition may read a protected attribute (sex, marital status).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from cardpilot.domain.money import format_major
from cardpilot.policy.base import (
    Code,
    Percent,
    PolicyModel,
    ReasonCode,
    YuanAsFen,
    percent_to_bp,
)
from cardpilot.policy.condition_syntax import Condition, Kind, Vocabulary
from cardpilot.policy.watch_actions import WatchActions

# Feature-table columns (docs/CONTRACTS.md "Feature table" and "Scores") a condition may read,
# plus the columns the engine derives from the review dates. A typo fails at load, not mid-run.
FEATURE_COLUMNS: dict[str, Kind] = {
    "score": "int",
    "pd": "float",
    "credit_limit_minor": "money",
    "utilisation_latest": "float",
    "utilisation_avg_6m": "float",
    "utilisation_trend": "float",
    "payment_ratio_avg_6m": "float",
    "revolving_months_6m": "int",
    "months_overdue_latest": "int",
    "max_months_overdue_6m": "int",
    "overdue_count_3m": "int",
    "overdue_count_6m": "int",
    "consecutive_overdue_months": "int",
    "months_since_last_overdue": "int",
    "bill_growth": "float",
    "payment_volatility": "float",
    "spend_avg_6m_minor": "money",
    "cash_advance_share": "float",
    "months_on_book": "int",
    "age": "int",
    "education": "str",
    "annual_income_minor": "money",
    # Derived by the engine from last_review_on / last_limit_change_on and the as-of date.
    "months_since_review": "int",
    "months_since_limit_change": "int",
}
FEATURES = Vocabulary(FEATURE_COLUMNS)
# A condition of limits.yaml: the one condition language, reading the feature table.
LimitCondition = Annotated[Condition, AfterValidator(FEATURES.check)]

LOCALES: tuple[str, ...] = ("zh-CN", "en")


class Labels(PolicyModel):
    """A short name in every supported locale."""

    zh_cn: str = Field(alias="zh-CN", min_length=1)
    en: str = Field(min_length=1)

    def text(self, locale: str) -> str:
        return self.zh_cn if locale == "zh-CN" else self.en


# --------------------------------------------------------------------------- ranges


class YuanRange(PolicyModel):
    min_minor: YuanAsFen = Field(alias="min_yuan")
    max_minor: YuanAsFen = Field(alias="max_yuan")

    @model_validator(mode="after")
    def _ordered(self) -> YuanRange:
        if self.min_minor > self.max_minor:
            raise ValueError("min_yuan must not exceed max_yuan")
        return self


class PercentRange(PolicyModel):
    min: Percent
    max: Percent

    @model_validator(mode="after")
    def _ordered(self) -> PercentRange:
        if self.min > self.max:
            raise ValueError("min must not exceed max")
        return self


class ScoreBand(PolicyModel):
    """Inclusive score band ``[min, max]`` in score points."""

    min: int
    max: int

    @model_validator(mode="after")
    def _ordered(self) -> ScoreBand:
        if self.min > self.max:
            raise ValueError("min must not exceed max")
        return self


class PdBand(PolicyModel):
    """Half-open PD band ``[min, max)``; the worst grade's band includes 1."""

    min: float = Field(ge=0, le=1)
    max: float = Field(ge=0, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> PdBand:
        if self.min >= self.max:
            raise ValueError("min must be below max")
        return self


# --------------------------------------------------------------------------- grades


class Decrease(PolicyModel):
    """When a grade's limit goes down, and how far."""

    reason: ReasonCode
    when: LimitCondition
    cut_pct: Percent = Field(gt=0)
    floor_minor: YuanAsFen = Field(alias="floor_yuan")


class GradeCaps(PolicyModel):
    """Ceilings an increase may not cross. Null means no such cap."""

    max_limit_minor: YuanAsFen | None = Field(default=None, alias="max_limit_yuan")
    max_pct_of_annual_income: Percent | None = None


class Grade(PolicyModel):
    code: Code
    label: Labels
    score: ScoreBand | None = None
    pd: PdBand | None = None
    initial_limit: YuanRange
    # Null: this grade never gets an increase at review (the Poor grade).
    increase_pct: PercentRange | None
    decrease: Decrease
    caps: GradeCaps = GradeCaps()


# --------------------------------------------------------------------------- segments


class Segment(PolicyModel):
    """A spending and repayment segment; ordered rules, first match wins."""

    code: Code
    label: Labels
    # Null only on the last segment: the default for everyone else.
    when: LimitCondition | None = None
    # "block": the segment keeps a stable limit at review (reason ``block_reason``).
    increase: Literal["allow", "block"] = "allow"
    block_reason: ReasonCode | None = None
    # Where in the grade's increase range the segment moves the account: +1 pulls to the top,
    # -1 to the bottom, 0 leaves it where the score within the grade puts it.
    placement_pull: Decimal = Field(default=Decimal(0), ge=-1, le=1, decimal_places=3)
    increase_reason: ReasonCode | None = None

    @model_validator(mode="after")
    def _block_has_reason(self) -> Segment:
        if self.increase == "block" and self.block_reason is None:
            raise ValueError("increase: block needs a block_reason")
        return self


# --------------------------------------------------------------------------- the rest


class Rounding(PolicyModel):
    # Limits are rounded down (never up: rounding must not grant credit the policy did not).
    mode: Literal["down"] = "down"
    limit_step_minor: YuanAsFen = Field(alias="limit_step_yuan")
    increase_pct_step: Percent = Field(gt=0)

    @field_validator("limit_step_minor")
    @classmethod
    def _positive(cls, value: int) -> int:
        if value <= 0:
            raise ValueError("must be positive")
        return value


class Review(PolicyModel):
    cycle_months: Literal[6, 12]
    # Decreases are risk-driven: apply them at every run (true) or only when a review is due.
    decrease_between_reviews: bool
    not_due_reason: ReasonCode
    increase_reason: ReasonCode


class ScoreScale(PolicyModel):
    min: int
    max: int

    @model_validator(mode="after")
    def _ordered(self) -> ScoreScale:
        if self.min >= self.max:
            raise ValueError("min must be below max")
        return self


class Grading(PolicyModel):
    basis: Literal["score", "pd"]
    score_scale: ScoreScale


class CustomGuard(PolicyModel):
    reason: ReasonCode
    when: LimitCondition


class Guards(PolicyModel):
    """Rules that forbid an increase (never a decrease). Checked in this order."""

    no_increase_while_overdue: bool
    overdue_reason: ReasonCode
    recent_overdue_months: int = Field(ge=0, le=24)
    recent_overdue_reason: ReasonCode
    min_months_on_book: int = Field(ge=0, le=120)
    months_on_book_reason: ReasonCode
    # What to do when months on book is unknown (UCI data has no open dates).
    unknown_months_on_book: Literal["allow", "block"]
    cooling_months: int = Field(ge=0, le=60)
    cooling_reason: ReasonCode
    custom: list[CustomGuard] = Field(default_factory=list)


class DecisionReasons(PolicyModel):
    """Reason codes the engine itself gives (each needs a text in reasons.yaml)."""

    no_score: ReasonCode
    grade_no_increase: ReasonCode
    cap_grade: ReasonCode
    cap_income: ReasonCode
    capped_grade: ReasonCode
    capped_income: ReasonCode
    at_floor: ReasonCode
    step_too_small: ReasonCode


class InitialLimits(PolicyModel):
    """New applicants: the grade's initial range, placed by score, capped by income."""

    offer_reason: ReasonCode
    capped_income_reason: ReasonCode
    # When the income cap is below the grade's minimum: decline (responsible lending) or
    # offer the grade's minimum anyway.
    below_grade_min: Literal["decline", "offer_grade_min"]
    decline_reason: ReasonCode
    no_score_reason: ReasonCode


class Watch(PolicyModel):
    """Watch after a large increase (issue #5 item 6): which increases start a watch, for how
    long, and the rules each new statement is checked against. Thresholds compare a statement
    with the account's own average over the cycles before the watch started."""

    min_increase_pct: Percent = Field(default=Decimal(30), gt=0)
    months: int = Field(default=6, ge=1, le=24)
    # A statement with a balance owed from the previous cycle and nothing paid, or overdue.
    missed_payment_reason: ReasonCode = "WATCH_MISSED_PAYMENT"
    # Utilisation rose by at least this many points (0.3 = 30 points) over the pre-watch mean.
    utilisation_jump: float = Field(default=0.3, gt=0, le=5)
    utilisation_jump_reason: ReasonCode = "WATCH_UTILISATION_JUMP"
    # Cash advances at least this multiple of the pre-watch monthly mean and at least the amount.
    cash_advance_multiple: Decimal = Field(default=Decimal(3), ge=1, le=100, decimal_places=2)
    cash_advance_min_minor: YuanAsFen = Field(default=100_000, alias="cash_advance_min_yuan")
    cash_advance_reason: ReasonCode = "WATCH_CASH_ADVANCE_SURGE"
    # New spending at least this multiple of the pre-watch monthly mean and at least the amount.
    spending_multiple: Decimal = Field(default=Decimal(3), ge=1, le=100, decimal_places=2)
    spending_min_minor: YuanAsFen = Field(default=300_000, alias="spending_min_yuan")
    spending_reason: ReasonCode = "WATCH_SPENDING_SPIKE"

    def reason_codes(self) -> dict[str, str]:
        return {
            "missed_payment": self.missed_payment_reason,
            "utilisation_jump": self.utilisation_jump_reason,
            "cash_advance_surge": self.cash_advance_reason,
            "spending_spike": self.spending_reason,
        }


class LimitPolicy(PolicyModel):
    """``limits.yaml``."""

    version: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=40)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    effective_from: dt.date | None = None
    rounding: Rounding
    review: Review
    grading: Grading
    grades: list[Grade] = Field(min_length=2)
    segments: list[Segment] = Field(min_length=1)
    guards: Guards
    decision_reasons: DecisionReasons
    initial: InitialLimits
    watch: Watch = Watch()
    # What follows each watch flag (policy/watch_actions.py); none: flags are only listed.
    watch_actions: WatchActions | None = None

    @model_validator(mode="after")
    def _consistent(self) -> LimitPolicy:
        self._check_grade_bands()
        self._check_steps()
        self._check_segments()
        return self

    def _check_grade_bands(self) -> None:
        codes = [g.code for g in self.grades]
        if len(set(codes)) != len(codes):
            raise ValueError(f"grades: codes must be unique, got {codes}")
        scale = self.grading.score_scale
        if self.grading.basis == "score":
            for i, grade in enumerate(self.grades):
                if grade.score is None:
                    raise ValueError(f"grades[{i}] ({grade.code}).score: required (basis: score)")
            bands = [g.score for g in self.grades if g.score is not None]
            if bands[0].max != scale.max:
                raise ValueError(
                    f"grades[0].score.max: must equal score_scale.max ({scale.max}); "
                    "list grades best first"
                )
            if bands[-1].min != scale.min:
                raise ValueError(
                    f"grades[{len(bands) - 1}].score.min: must equal score_scale.min ({scale.min})"
                )
            for i in range(len(bands) - 1):
                if bands[i + 1].max != bands[i].min - 1:
                    raise ValueError(
                        f"grades[{i + 1}].score.max: must be {bands[i].min - 1} "
                        f"(one below grades[{i}].score.min) so grades are contiguous"
                    )
        else:
            for i, grade in enumerate(self.grades):
                if grade.pd is None:
                    raise ValueError(f"grades[{i}] ({grade.code}).pd: required (basis: pd)")
            pds = [g.pd for g in self.grades if g.pd is not None]
            if pds[0].min != 0:
                raise ValueError("grades[0].pd.min: must be 0; list grades best first")
            if pds[-1].max != 1:
                raise ValueError(f"grades[{len(pds) - 1}].pd.max: must be 1")
            for i in range(len(pds) - 1):
                if pds[i + 1].min != pds[i].max:
                    raise ValueError(
                        f"grades[{i + 1}].pd.min: must equal grades[{i}].pd.max "
                        f"({pds[i].max}) so grades are contiguous"
                    )

    def _check_steps(self) -> None:
        step = self.rounding.limit_step_minor
        pct_step = percent_to_bp(self.rounding.increase_pct_step)
        for i, g in enumerate(self.grades):
            amounts = {
                "initial_limit.min_yuan": g.initial_limit.min_minor,
                "initial_limit.max_yuan": g.initial_limit.max_minor,
                "decrease.floor_yuan": g.decrease.floor_minor,
            }
            if g.caps.max_limit_minor is not None:
                amounts["caps.max_limit_yuan"] = g.caps.max_limit_minor
            for name, fen in amounts.items():
                if fen % step:
                    raise ValueError(
                        f"grades[{i}] ({g.code}).{name}: {format_major(fen)} is not a multiple "
                        f"of rounding.limit_step_yuan ({format_major(step)})"
                    )
            if g.increase_pct is not None:
                for name, pct in (("min", g.increase_pct.min), ("max", g.increase_pct.max)):
                    if percent_to_bp(pct) % pct_step:
                        raise ValueError(
                            f"grades[{i}] ({g.code}).increase_pct.{name}: {pct} is not a "
                            "multiple of rounding.increase_pct_step "
                            f"({self.rounding.increase_pct_step})"
                        )

    def _check_segments(self) -> None:
        codes = [s.code for s in self.segments]
        if len(set(codes)) != len(codes):
            raise ValueError(f"segments: codes must be unique, got {codes}")
        for i, seg in enumerate(self.segments[:-1]):
            if seg.when is None:
                raise ValueError(
                    f"segments[{i}] ({seg.code}).when: required; only the last segment "
                    "is the default without a condition"
                )
        if self.segments[-1].when is not None:
            raise ValueError(
                f"segments[{len(codes) - 1}] ({codes[-1]}).when: the last segment is the "
                "default and takes no condition"
            )

    def reason_codes_used(self) -> dict[str, str]:
        """Every reason code this file names, keyed by where it is named."""
        used: dict[str, str] = {
            "review.not_due_reason": self.review.not_due_reason,
            "review.increase_reason": self.review.increase_reason,
            "guards.overdue_reason": self.guards.overdue_reason,
            "guards.recent_overdue_reason": self.guards.recent_overdue_reason,
            "guards.months_on_book_reason": self.guards.months_on_book_reason,
            "guards.cooling_reason": self.guards.cooling_reason,
            "initial.offer_reason": self.initial.offer_reason,
            "initial.capped_income_reason": self.initial.capped_income_reason,
            "initial.decline_reason": self.initial.decline_reason,
            "initial.no_score_reason": self.initial.no_score_reason,
        }
        for name, code in self.decision_reasons.model_dump().items():
            used[f"decision_reasons.{name}"] = code
        for i, guard in enumerate(self.guards.custom):
            used[f"guards.custom[{i}].reason"] = guard.reason
        for rule, code in self.watch.reason_codes().items():
            used[f"watch.{rule}"] = code
        if self.watch_actions is not None:
            used["watch_actions.hold_reason"] = self.watch_actions.hold_reason
        for i, grade in enumerate(self.grades):
            used[f"grades[{i}].decrease.reason"] = grade.decrease.reason
        for i, seg in enumerate(self.segments):
            if seg.block_reason is not None:
                used[f"segments[{i}].block_reason"] = seg.block_reason
            if seg.increase_reason is not None:
                used[f"segments[{i}].increase_reason"] = seg.increase_reason
        return used


class ReasonText(PolicyModel):
    zh_cn: str = Field(alias="zh-CN", min_length=1, max_length=200)
    en: str = Field(min_length=1, max_length=200)

    def text(self, locale: str) -> str:
        return self.zh_cn if locale == "zh-CN" else self.en


class ReasonCatalog(PolicyModel):
    """``reasons.yaml``: plain-language text of every decision reason code."""

    reasons: dict[ReasonCode, ReasonText] = Field(min_length=1)


class Policy(PolicyModel):
    """A loaded policy: limits + reason texts + the version decisions record."""

    version: str
    limits: LimitPolicy
    reasons: ReasonCatalog

    @model_validator(mode="after")
    def _reasons_have_texts(self) -> Policy:
        missing = [
            f"limits.yaml: {where}: reason code {code!r} has no text in reasons.yaml"
            for where, code in self.limits.reason_codes_used().items()
            if code not in self.reasons.reasons
        ]
        if missing:
            raise ValueError("; ".join(missing))
        return self
