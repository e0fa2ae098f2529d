"""The early-warning policy file (``warning.yaml``): triggers, interventions, cool-downs, caps.

Each rule is a condition of the one condition language (``cardpilot.policy.condition_syntax``)
over the trigger input (``TRIGGER_INPUT``: the early-warning score, its change since the last
run, and what the statements and events say of the account), mapped to an intervention: a
warning message, a counselling offer, an instalment or deferral offer quoted from the plans
module, or a hold on increases. A rule fires at most once per account and statement cycle,
not again within its ``cooldown_days``, and an account gets at most ``frequency_cap``
interventions in a rolling window. Quiet hours and the outbox's own frequency cap are not
repeated here: the messages go through the outbox, whose dispatcher applies ``notify.yaml``'s
(one rule for every service message).

Money is written in yuan (``value_yuan``), held as integer fen; rates and scores are plain
numbers. Loaded like the other policy files: the recorded version is
``<declared>+<content hash>`` of the validated content.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, ValidationError, model_validator

from cardpilot.policy.base import (
    MONEY_DUMP,
    Code,
    PolicyModel,
    ReasonCode,
    validation_message,
)
from cardpilot.policy.condition_syntax import Condition, Vocabulary
from cardpilot.policy.files import content_digest, read_yaml_mapping

WARNING_FILE = "warning.yaml"
MAX_PLAN_MONTHS = 60  # the plans module's tenor cap (domain.plans.MAX_TENOR_MONTHS)

# What a trigger condition may read: one row per account (``cardpilot.warning.triggers``).
TRIGGER_INPUT = Vocabulary(
    {
        # the early-warning model's probability of going overdue next cycle (0..1)
        "score": "float",
        # score now less the score stored by the previous run (null: no earlier run)
        "score_change": "float",
        # the latest statement's due date less the as-of date (negative: past the due date)
        "days_to_due": "int",
        "statement_balance_minor": "money",
        "minimum_due_minor": "money",
        # the latest statement's minimum due less what was paid since its cycle date
        "unpaid_minimum_minor": "money",
        # latest balance / credit limit
        "utilisation": "float",
        # spending of the latest cycle (online: of the cycle so far) / the mean of the cycles
        # before it in the six-month window
        "spend_to_6m_average": "float",
        # days since the latest limit increase (null: none known)
        "days_since_limit_increase": "int",
        # days from the latest limit increase to the first cash advance after it (null: none)
        "cash_advance_days_after_increase": "int",
        # days since the latest cash advance (null: none known)
        "days_since_cash_advance": "int",
        "months_on_book": "int",
    },
    noun="trigger input",
)
WarningCondition = Annotated[Condition, AfterValidator(TRIGGER_INPUT.check)]

InterventionKind = Literal["message", "counselling", "plan_offer", "hold_increases"]
PlanKindName = Literal["equal_principal", "amortising", "deferral"]
Channel = Literal["sms", "app", "email"]


class Texts(PolicyModel):
    """Customer wording in both languages (plain words, no codes)."""

    zh_cn: str = Field(alias="zh-CN", min_length=1, max_length=200)
    en: str = Field(min_length=1, max_length=400)

    def text(self, locale: str) -> str:
        return self.zh_cn if locale.startswith("zh") else self.en


class Intervention(PolicyModel):
    """What a fired rule does. ``message``, ``counselling`` and ``plan_offer`` send a message
    (``message_type`` of notify.yaml, on ``channels`` or the type's own); ``plan_offer`` quotes
    ``plan`` over ``months`` (``defer_months`` for a deferral) on the overdue policy's plan
    terms; ``hold_increases`` stops limit increases for ``hold_days`` and sends nothing."""

    kind: InterventionKind
    texts: Texts
    message_type: Code | None = None
    channels: list[Channel] | None = None
    plan: PlanKindName | None = None
    months: int | None = Field(default=None, ge=1, le=MAX_PLAN_MONTHS)
    defer_months: int = Field(default=0, ge=0, le=12)
    hold_days: int | None = Field(default=None, ge=1, le=730)

    @model_validator(mode="after")
    def _complete(self) -> Intervention:
        sends = self.kind != "hold_increases"
        if sends and self.message_type is None:
            raise ValueError(f"a {self.kind} intervention names its message_type")
        if not sends and (self.message_type or self.channels):
            raise ValueError("hold_increases sends no message: no message_type or channels")
        if (self.kind == "plan_offer") != (self.plan is not None and self.months is not None):
            raise ValueError("plan and months are given for a plan_offer, and only for one")
        if (self.kind == "hold_increases") != (self.hold_days is not None):
            raise ValueError("hold_days is given for hold_increases, and only for it")
        if self.defer_months and self.plan != "deferral":
            raise ValueError("defer_months is for a deferral plan")
        if self.plan == "deferral" and not self.defer_months:
            raise ValueError("a deferral plan defers at least one month (defer_months)")
        return self


class TriggerRule(PolicyModel):
    """One trigger: when it fires, why (``reason``), what follows (``intervention``)."""

    code: Code
    reason: ReasonCode
    when: WarningCondition
    intervention: Code
    # 1 is the most important: under the frequency cap the lowest numbers go first
    priority: int = Field(ge=1, le=99)
    # not fired again for the same account within this many days of its last firing
    cooldown_days: int = Field(ge=0, le=365)


class FrequencyCap(PolicyModel):
    """At most ``max_interventions`` per account in any ``window_days`` (rolling)."""

    max_interventions: int = Field(ge=1, le=20)
    window_days: int = Field(ge=1, le=365)


class Advice(PolicyModel):
    """The plan every warning message quotes when the account qualifies for it (a plan offer
    quotes its own); the terms are the overdue policy's (``plans``)."""

    plan: Literal["equal_principal", "amortising"]
    months: int = Field(ge=1, le=MAX_PLAN_MONTHS)


class WarningPolicyFile(PolicyModel):
    version: str = Field(min_length=1, max_length=40)
    currency: str = Field(default="CNY", pattern=r"^[A-Z]{3}$")
    frequency_cap: FrequencyCap
    advice: Advice
    rules: list[TriggerRule] = Field(min_length=1)
    interventions: dict[Code, Intervention] = Field(min_length=1)
    reasons: dict[ReasonCode, Texts]

    @model_validator(mode="after")
    def _consistent(self) -> WarningPolicyFile:
        codes = [r.code for r in self.rules]
        if len(set(codes)) != len(codes):
            raise ValueError("rules: codes must be unique")
        for rule in self.rules:
            if rule.intervention not in self.interventions:
                known = ", ".join(sorted(self.interventions))
                raise ValueError(
                    f"rules.{rule.code}: unknown intervention {rule.intervention!r} "
                    f"(interventions: {known})"
                )
            if rule.reason not in self.reasons:
                raise ValueError(f"rules.{rule.code}: reason {rule.reason} has no texts")
        return self


class WarningPolicy(PolicyModel):
    """A loaded ``warning.yaml``: ``version`` is ``<declared>+<content hash>``."""

    version: str
    file: WarningPolicyFile

    def intervention_of(self, rule: TriggerRule) -> Intervention:
        return self.file.interventions[rule.intervention]


class WarningPolicyError(ValueError):
    """A warning policy that cannot be used: names the file and the field, and what is wrong."""


def default_warning_policy_path() -> Path:
    return Path(str(resources.files("cardpilot") / "policies" / "default" / WARNING_FILE))


def warning_policy_from_data(data: object, name: str = WARNING_FILE) -> WarningPolicy:
    """Validate a parsed ``warning.yaml``."""
    try:
        content = WarningPolicyFile.model_validate(data)
    except ValidationError as exc:
        raise WarningPolicyError(validation_message(name, exc)) from exc
    payload = content.model_dump(mode="json", by_alias=True, context={MONEY_DUMP: "fen"})
    return WarningPolicy(version=f"{content.version}+{content_digest(payload)}", file=content)


def load_warning_policy(path: Path | None = None) -> WarningPolicy:
    """A policy file, or a folder holding ``warning.yaml``; ``None``: the shipped default."""
    file = default_warning_policy_path() if path is None else Path(path)
    if file.is_dir():
        file = file / WARNING_FILE
    data = read_yaml_mapping(file, WarningPolicyError, f"a policy folder holds {WARNING_FILE}")
    return warning_policy_from_data(data, str(file))
