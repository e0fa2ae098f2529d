"""The overdue policy file (``overdue.yaml``): Pydantic v2 models.

What a valid file is: the aging scale, the charge rules (with the regulation each switch stands
for), the risk segments with their cut-offs and treatments, plan eligibility and the 和谐还款
waiver terms, the reason texts, and the reminders and education schedule (``reminders``).
Money, percentages and codes follow ``cardpilot.policy.base`` (shared with ``limits.yaml``):
money in yuan (``*_yuan``) held as integer fen, percentages 0–100 (to basis points half to
even); rates are ``Decimal`` (daily rates for penalty interest, monthly rates for plans). Segment
rules are written in the one condition language (``cardpilot.policy.condition_syntax``) over the
treatment input's columns.

Invariants the issue requires are checked here, so a policy that breaks them never loads:
a ``high`` risk segment gets no fee waiver and no due-date extension; a ``low`` risk segment
gets no penalty rate above the standard one and no limit cut. Every penalty rate is within the
policy's cap. The engine re-applies the same guards on its output (defence in depth).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from cardpilot.domain.delinquency import Bucket, BucketScale, DelinquencyError
from cardpilot.domain.plans import MAX_TENOR_MONTHS
from cardpilot.policy.base import (
    Code,
    Percent,
    PolicyModel,
    ReasonCode,
    YuanAsFen,
    exact_decimal,
)
from cardpilot.policy.condition_syntax import Condition, Kind, Vocabulary, comparisons

LOCALES: tuple[str, ...] = ("zh-CN", "en")

# Columns a segment condition may read (the treatment input table), with their kinds.
CONDITION_FIELDS: dict[str, Kind] = {
    "pd": "float",
    "days_past_due": "int",
    "bucket": "str",
    "cures": "int",
    "broken_promises": "int",
    "consecutive_overdue_months": "int",
    "cycles_delinquent": "int",
    "overdue_balance_minor": "money",
}
TREATMENT_INPUT = Vocabulary(CONDITION_FIELDS)
# A condition of overdue.yaml: the one condition language, reading the treatment input.
OverdueCondition = Annotated[Condition, AfterValidator(TREATMENT_INPUT.check)]
SHIPPED_SEGMENTS = ("high_risk", "medium_risk", "low_risk")

Rate = Annotated[Decimal, BeforeValidator(exact_decimal), Field(ge=0, lt=1)]


class Texts(PolicyModel):
    zh_cn: str = Field(alias="zh-CN", min_length=1)
    en: str = Field(min_length=1)


# ------------------------------------------------------------------------------ aging


class BucketSpec(PolicyModel):
    code: str = Field(min_length=1, max_length=16)
    max_dpd: int | None = Field(default=None, ge=0)


class AgingPolicy(PolicyModel):
    buckets: list[BucketSpec] = Field(min_length=2)
    # Bank practice (not a rule in REGULATION.md): write-off (核销) considered past 180 days.
    write_off_after_days: int | None = Field(default=180, ge=1)
    # Between statements, an overdue cycle keeps aging day by day until the next statement.
    age_between_cycles: bool = True

    @model_validator(mode="after")
    def _scale_valid(self) -> AgingPolicy:
        try:
            self.scale()
        except DelinquencyError as exc:
            raise ValueError(f"buckets: {exc}") from exc
        return self

    def scale(self) -> BucketScale:
        return BucketScale.from_upper_bounds([(b.code, b.max_dpd) for b in self.buckets])

    @property
    def bucket_list(self) -> tuple[Bucket, ...]:
        return self.scale().buckets


# ---------------------------------------------------------------------------- charges


class ChargePolicy(PolicyModel):
    # 银发〔2016〕111号 (confirmed): no interest on 违约金, annual fee, cash-advance fee.
    interest_on_fees: bool = False
    # No compounding of penalty interest unless the policy explicitly allows it.
    compound_penalty: bool = False
    # 银保监规〔2022〕13号 (to check; the draft capped interest + fees at the principal).
    fee_cap_share_of_principal: Percent | None = None
    # Penalty interest accrues per calendar day at a daily rate (day count stated here).
    # Rates are quoted per calendar day (万分之五 = 0.0005); a contract that quotes an annual
    # rate converts it on ACT/365 (``domain.fees.daily_rate_from_annual``) before it goes here.
    day_count: Literal["per_day"] = "per_day"
    rounding: Literal["half_up"] = "half_up"
    # The contract's standard penalty rate; PBOC 〔2020〕 No. 22 (to check) lifted the 0.05 %/day
    # cap of 银发〔2016〕111号, so both the rate and the cap are the bank's, as policy values.
    standard_penalty_rate_daily: Rate
    penalty_rate_cap_daily: Rate

    @model_validator(mode="after")
    def _within_cap(self) -> ChargePolicy:
        if self.standard_penalty_rate_daily > self.penalty_rate_cap_daily:
            raise ValueError("standard_penalty_rate_daily is above penalty_rate_cap_daily")
        return self


class LateFee(PolicyModel):
    """违约金: ``rate`` × the unpaid part of the minimum payment, within [min, max]."""

    rate: Rate
    min_yuan: YuanAsFen = 0
    max_yuan: YuanAsFen | None = None


# --------------------------------------------------------------------------- segments


class SegmentRule(PolicyModel):
    """The condition holds → the account belongs to the segment, for ``reason``."""

    reason: ReasonCode
    when: OverdueCondition


class Contact(PolicyModel):
    first_contact_dpd: int = Field(ge=0)
    contacts_per_week: int = Field(ge=0, le=21)
    tone: Literal["gentle", "standard", "firm"]


class Treatment(PolicyModel):
    code: Code
    reason: ReasonCode
    penalty_rate_daily: Rate
    late_fee: LateFee
    fee_waiver_share: Percent = Decimal(0)
    due_date_extension_days: int = Field(default=0, ge=0, le=90)
    limit_action: Literal["none", "freeze", "cut"] = "none"
    limit_cut_share: Percent = Decimal(0)  # share of the limit removed on a cut
    contact: Contact
    plans: list[Literal["equal_principal", "amortising", "deferral", "personalised"]] = Field(
        default_factory=list
    )

    @model_validator(mode="after")
    def _cut_share(self) -> Treatment:
        if (self.limit_action == "cut") != (self.limit_cut_share > 0):
            raise ValueError("limit_cut_share is required with limit_action cut, and only then")
        return self


class Segment(PolicyModel):
    code: Code
    risk_level: Literal["high", "medium", "low"]
    labels: Texts
    # The segment applies when any of its rules holds (each holding rule gives its reason);
    # ``otherwise`` marks the catch-all (last).
    rules: list[SegmentRule] = Field(default=[], max_length=12)
    otherwise: bool = False
    otherwise_reason: ReasonCode | None = None
    treatment: Treatment

    @model_validator(mode="after")
    def _rules_or_otherwise(self) -> Segment:
        if self.otherwise == bool(self.rules):
            raise ValueError(f"segment {self.code}: give either rules or otherwise: true")
        if self.otherwise and self.otherwise_reason is None:
            raise ValueError(f"segment {self.code}: the catch-all needs otherwise_reason")
        t = self.treatment
        if self.risk_level == "high" and (t.fee_waiver_share > 0 or t.due_date_extension_days):
            raise ValueError(
                f"segment {self.code}: high-risk accounts never get a fee waiver or an extension"
            )
        return self


# ------------------------------------------------------------------------------ plans


class PlanTerms(PolicyModel):
    monthly_rate: Rate
    min_months: int = Field(default=1, ge=1)
    max_months: int = Field(ge=1, le=MAX_TENOR_MONTHS)
    min_principal_yuan: YuanAsFen = 0


class DeferralTerms(PlanTerms):
    max_defer_months: int = Field(ge=1, le=12)


class PlanPolicy(PolicyModel):
    # 银保监规〔2022〕13号 / 办法 art. 70 (to check): instalment tenor at most five years.
    max_tenor_months: int = Field(default=MAX_TENOR_MONTHS, ge=1, le=MAX_TENOR_MONTHS)
    equal_principal: PlanTerms
    amortising: PlanTerms
    deferral: DeferralTerms
    personalised: PlanTerms

    @model_validator(mode="after")
    def _tenors(self) -> PlanPolicy:
        for name in ("equal_principal", "amortising", "deferral", "personalised"):
            terms: PlanTerms = getattr(self, name)
            if terms.max_months > self.max_tenor_months or terms.min_months > terms.max_months:
                raise ValueError(
                    f"plans.{name}: months must satisfy min ≤ max ≤ {self.max_tenor_months}"
                )
        return self


class HarmonyPolicy(PolicyModel):
    """和谐还款: share of penalty fees waived when the plan is kept; once per period."""

    waiver_share: Percent
    period_months: int = Field(ge=1, le=120)
    grace_days: int = Field(default=0, ge=0, le=30)
    offer_valid_days: int = Field(ge=1, le=90)
    segments: list[Code] = Field(min_length=1)


# -------------------------------------------------------------------------- reminders

ReminderTrigger = Literal["before_due", "first_day_overdue", "treatment_path"]
Channel = Literal["sms", "app", "email"]
EducationTopic = Literal["interest_and_fees", "minimum_payment_cost"]


class ReminderRule(PolicyModel):
    """One scheduled message: when it is due, which template, channels and priority.

    * ``before_due``: ``days`` before the statement's due date, only while the minimum payment
      is (partly) unpaid;
    * ``first_day_overdue``: the day after the due date with the minimum still unpaid;
    * ``treatment_path``: an overdue account on days past due ``from_dpd``, then every
      ``every_days`` until ``until_dpd``, optionally only for some risk segments (from the
      account's latest ``overdue treat`` decision) or buckets.

    ``priority``: 1 is the most important; when more messages fall on one account on one day
    than ``max_per_account_per_day``, the lower numbers go and the rest are not queued.
    """

    code: Code
    trigger: ReminderTrigger
    message_type: Code  # a folder of policies/templates and a type in notify.yaml
    channels: list[Channel] | None = None  # None: the message type's channels (notify.yaml)
    priority: int = Field(ge=1, le=99)
    days: int | None = Field(default=None, ge=1, le=31)
    segments: list[Code] | None = None
    buckets: list[str] | None = None
    from_dpd: int | None = Field(default=None, ge=1)
    every_days: int | None = Field(default=None, ge=1, le=90)
    until_dpd: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _fields_fit_trigger(self) -> ReminderRule:
        path_only = (self.segments, self.buckets, self.from_dpd, self.every_days, self.until_dpd)
        if self.trigger == "treatment_path":
            if self.from_dpd is None or self.days is not None:
                raise ValueError(f"rule {self.code}: treatment_path needs from_dpd (not days)")
            if self.until_dpd is not None and self.until_dpd < self.from_dpd:
                raise ValueError(f"rule {self.code}: until_dpd is before from_dpd")
        else:
            if any(v is not None for v in path_only):
                raise ValueError(
                    f"rule {self.code}: segments, buckets, from_dpd, every_days and until_dpd "
                    "are for treatment_path rules"
                )
            if self.trigger == "before_due" and self.days is None:
                raise ValueError(f"rule {self.code}: before_due needs days (before the due date)")
            if self.trigger == "first_day_overdue" and self.days is not None:
                raise ValueError(f"rule {self.code}: first_day_overdue takes no days")
        return self


class EducationRule(PolicyModel):
    """An education message, sent only to customers who opted in (notify category
    ``education_opt_in``): ``days`` after a statement whose balance is at least
    ``min_balance_yuan``."""

    code: Code
    topic: EducationTopic
    message_type: Code
    channels: list[Channel] | None = None
    priority: int = Field(ge=1, le=99)
    days_after_statement: int = Field(ge=0, le=31)
    min_balance_yuan: YuanAsFen = 0


class MinimumPayment(PolicyModel):
    """The card contract's minimum payment (最低还款额), used when a statement carries none and
    for the education figures. 银发〔2016〕111号 (confirmed) leaves it to the issuer."""

    share_of_principal: Percent  # e.g. 10 (% of the principal)
    floor_yuan: YuanAsFen  # never less than this (unless the balance is smaller)
    # Common Chinese practice: the minimum also covers 100 % of the interest and fees charged
    # in the cycle, so the principal falls by the share every month. False: the minimum is the
    # share of the whole balance and unpaid interest stays in the balance.
    includes_interest_and_fees: bool = True


class Revolving(PolicyModel):
    """Interest on a balance carried after paying only the minimum (循环利息), for the
    minimum-payment illustration: ``daily_rate`` per calendar day over ``cycle_days`` per
    statement cycle, rounded half-up to the fen once per cycle. The rate is agreed in the
    contract (PBOC 〔2020〕 No. 22 lifted the 0.05 %/day cap, to check)."""

    daily_rate: Rate
    cycle_days: int = Field(default=30, ge=28, le=31)
    max_months: int = Field(default=600, ge=12, le=1200)  # the illustration gives up after this


class RemindersPolicy(PolicyModel):
    max_per_account_per_day: int = Field(default=1, ge=1, le=5)
    minimum_payment: MinimumPayment
    revolving: Revolving
    # The segment whose late fee (违约金) the interest-and-fees explanation quotes.
    fee_basis_segment: Code
    rules: list[ReminderRule] = Field(min_length=1)
    education: list[EducationRule] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_codes(self) -> RemindersPolicy:
        codes = [r.code for r in self.rules] + [e.code for e in self.education]
        if len(set(codes)) != len(codes):
            raise ValueError("reminders: rule and education codes must be unique")
        return self


# ----------------------------------------------------------------------------- policy


class OverduePolicyFile(PolicyModel):
    version: str = Field(min_length=1, max_length=40)
    currency: str = Field(default="CNY", pattern=r"^[A-Z]{3}$")
    # A cut limit is rounded down to a multiple of this (default 1.00: a whole unit). Left out
    # of the dump (and so of the version hash) at its default: files without it keep their
    # versions.
    limit_cut_step_yuan: YuanAsFen = Field(default=100, gt=0, exclude_if=lambda v: v == 100)
    aging: AgingPolicy
    charges: ChargePolicy
    segments: list[Segment] = Field(min_length=1)
    plans: PlanPolicy
    harmony: HarmonyPolicy
    reasons: dict[ReasonCode, Texts]
    reminders: RemindersPolicy | None = None

    @model_validator(mode="after")
    def _consistent(self) -> OverduePolicyFile:
        codes = [s.code for s in self.segments]
        if len(set(codes)) != len(codes):
            raise ValueError("segments: codes must be unique")
        catch_all = [s.code for s in self.segments if s.otherwise]
        if len(catch_all) != 1 or not self.segments[-1].otherwise:
            raise ValueError("segments: exactly one catch-all (otherwise: true), listed last")
        cap = self.charges.penalty_rate_cap_daily
        standard = self.charges.standard_penalty_rate_daily
        missing: set[str] = set()
        for s in self.segments:
            t = s.treatment
            if t.penalty_rate_daily > cap:
                raise ValueError(f"segments.{s.code}: penalty_rate_daily is above the cap {cap}")
            if s.risk_level == "low" and (
                t.penalty_rate_daily > standard or t.limit_action == "cut"
            ):
                raise ValueError(
                    f"segments.{s.code}: low-risk accounts never get a penalty rate above the "
                    f"standard {standard} or a limit cut"
                )
            wanted = {r.reason for r in s.rules} | {t.reason}
            if s.otherwise_reason:
                wanted.add(s.otherwise_reason)
            missing |= wanted - set(self.reasons)
        missing |= set(ACTION_REASONS.values()) - set(self.reasons)
        if missing:
            raise ValueError(f"reasons: no texts for {', '.join(sorted(missing))}")
        unknown = set(self.harmony.segments) - set(codes)
        if unknown:
            raise ValueError(f"harmony.segments: unknown segments {sorted(unknown)}")
        for s in self.segments:
            if s.code in self.harmony.segments and s.risk_level == "high":
                raise ValueError(f"harmony.segments: {s.code} is high risk: no waiver allowed")
        buckets = {b.code for b in self.aging.buckets}
        for s in self.segments:
            for rule in s.rules:
                for _, cmp in comparisons(rule.when):
                    if cmp.feature == "bucket" and cmp.value is not None:
                        vals = cmp.value if isinstance(cmp.value, list) else [cmp.value]
                        bad = {str(v) for v in vals} - buckets
                        if bad:
                            raise ValueError(f"segments.{s.code}: unknown buckets {sorted(bad)}")
        if self.reminders is not None:
            self._reminders_consistent(self.reminders, buckets)
        return self

    def _reminders_consistent(self, r: RemindersPolicy, buckets: set[str]) -> None:
        by_code = {s.code: s for s in self.segments}
        if r.fee_basis_segment not in by_code:
            raise ValueError(f"reminders.fee_basis_segment: unknown segment {r.fee_basis_segment}")
        for rule in r.rules:
            unknown = set(rule.segments or ()) - set(by_code)
            if unknown:
                raise ValueError(f"reminders.{rule.code}: unknown segments {sorted(unknown)}")
            bad = set(rule.buckets or ()) - buckets
            if bad:
                raise ValueError(f"reminders.{rule.code}: unknown buckets {sorted(bad)}")
            # A treatment-path step never contacts a segment before its treatment's first
            # contact day (collection must not harass: 办法, collection provisions, to check).
            for code in rule.segments or ():
                first = by_code[code].treatment.contact.first_contact_dpd
                if rule.from_dpd is not None and rule.from_dpd < first:
                    raise ValueError(
                        f"reminders.{rule.code}: from_dpd {rule.from_dpd} is before the first "
                        f"contact day {first} of segment {code}"
                    )


# Reason codes the engine adds for what the treatment does (texts must be in the file).
ACTION_REASONS: dict[str, str] = {
    "freeze": "OVERDUE_LIMIT_FROZEN",
    "cut": "OVERDUE_LIMIT_CUT",
    "fee_waiver": "OVERDUE_FEE_WAIVER_PARTIAL",
    "extension": "OVERDUE_DUE_DATE_EXTENDED",
}


class OverduePolicy(PolicyModel):
    """A loaded policy: the file's content and its recorded version (declared + hash)."""

    version: str
    file: OverduePolicyFile
