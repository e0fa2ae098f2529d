"""The customer policy file (``customer.yaml`` beside ``limits.yaml``): how applications are
decided (grade bands of the application model's PD, the affordability cap, decline rules), which
actions a customer may be advised to take, and which large-purchase plans are offered.

A file of its own, versioned like the limit policy (``<declared version>+<content hash>``), so
every application decision, piece of advice and plan records the release it was made under.
Each section is optional: a command whose section is missing says so. Money follows
``cardpilot.policy.base`` (yuan in the file, fen in memory); conditions are the one condition
language, over the application's features (``APPLICATION_VOCABULARY``), never a protected
attribute.
"""

from __future__ import annotations

import itertools
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field, ValidationError, model_validator

from cardpilot.policy.base import (
    Code,
    Percent,
    PolicyModel,
    ReasonCode,
    exact_decimal,
    validation_message,
)
from cardpilot.policy.condition_syntax import Condition, Kind, Vocabulary
from cardpilot.policy.files import content_digest, read_yaml_file
from cardpilot.policy.loading import PolicyError, default_policy_path
from cardpilot.policy.purchases import PurchasePolicy, RequestPolicy
from cardpilot.policy.schema import Labels, Policy, ReasonText

CUSTOMER_FILE = "customer.yaml"


# What a decline rule may read: the application's score, PD and grade, and the application
# features (``cardpilot.scoring.application``, a layer this one does not import; a test keeps the
# two lists equal). Age is left out: an applicant is never declined for their age.
APPLICATION_COLUMNS: dict[str, Kind] = {
    "score": "int",
    "pd": "float",
    "grade": "str",
    "seniority_years": "float",
    "home": "str",
    "term_months": "float",
    "adverse_records": "str",
    "job": "str",
    "monthly_income_minor": "money",
    "monthly_expenses_minor": "money",
    "assets_minor": "money",
    "debt_minor": "money",
    "amount_requested_minor": "money",
    "purchase_price_minor": "money",
    "amount_to_price": "float",
    "instalment_minor": "money",
    "instalment_to_income": "float",
    "free_income_minor": "money",
    "expenses_to_income": "float",
    "debt_to_income": "float",
    "net_assets_minor": "money",
    "amount_to_assets": "float",
    "seniority_share": "float",
}
APPLICATION_VOCABULARY = Vocabulary(APPLICATION_COLUMNS)
ApplicationCondition = Annotated[Condition, AfterValidator(APPLICATION_VOCABULARY.check)]


class PdBandTop(PolicyModel):
    """One grade of the application model: applicants whose PD is below ``pd_below`` (and not
    in a better grade) get it; the last grade's ``pd_below`` is 1 (everyone left)."""

    grade: Code
    pd_below: float = Field(gt=0, le=1)


class Affordability(PolicyModel):
    """The income-based cap on an initial limit: at most ``months_of_free_income`` months of
    what is left of the monthly income after the monthly expenses (rounded down to the limit
    policy's step). The grade's share of annual income (``limits.yaml`` caps) applies too."""

    months_of_free_income: Annotated[
        Decimal, BeforeValidator(exact_decimal), Field(gt=0, le=60, decimal_places=2)
    ]
    # Income not declared: offer the grade's minimum limit only, or decline.
    unknown_income: Literal["grade_min", "decline"]
    unknown_income_reason: ReasonCode


class DeclineRule(PolicyModel):
    reason: ReasonCode
    when: ApplicationCondition


class ApplicationPolicy(PolicyModel):
    """How ``cardpilot apply`` decides: grades by PD, the cap, the rules that decline."""

    # The registry family whose champion decides when no --model is given.
    model_family: str = Field(default="application-scorecard", min_length=1)
    grades: list[PdBandTop] = Field(min_length=2)
    affordability: Affordability
    # Checked in order after the limit is set; the first that holds declines the application.
    decline: list[DeclineRule] = Field(default_factory=list)
    # Where the account opened on acceptance gets its id and its customer's: prefix + the
    # application id.
    account_prefix: str = Field(default="app-", pattern=r"^[A-Za-z0-9._:-]{0,16}$")

    @model_validator(mode="after")
    def _bands(self) -> ApplicationPolicy:
        tops = [g.pd_below for g in self.grades]
        if any(b <= a for a, b in itertools.pairwise(tops)):
            raise ValueError("grades: pd_below must rise from the best grade to the worst")
        if tops[-1] != 1:
            raise ValueError("grades: the last (worst) grade's pd_below must be 1")
        return self

    def reason_codes_used(self) -> dict[str, str]:
        used = {"affordability.unknown_income_reason": self.affordability.unknown_income_reason}
        for i, rule in enumerate(self.decline):
            used[f"decline[{i}].reason"] = rule.reason
        return used


class AdviceAction(PolicyModel):
    """One thing a customer can do, as what it does to their next statements: how they pay
    each bill and how much of the limit they leave used, for ``months`` cycles. The features
    follow from those statements (``cardpilot.customer.advice``); age, tenure, the limit and
    anything protected are never moved."""

    code: Code
    text: Labels
    months: int = Field(ge=1, le=6)
    # full: the whole previous bill, on time; minimum: the minimum due, on time; usual: what
    # the customer usually pays (an action that moves only utilisation).
    payment: Literal["full", "minimum", "usual"] = "usual"
    # The statement balance at most this share of the limit (paying more, spending less).
    utilisation_at_most: float | None = Field(default=None, gt=0, le=1)


class AdvicePolicy(PolicyModel):
    """``cardpilot advise``: which actions, how many at most, and how a bill is simulated."""

    # The registry family whose champion scores the account when no --model is given.
    model_family: str = Field(default="scorecard", min_length=1)
    max_actions: int = Field(default=3, ge=1, le=3)
    # The minimum due of a simulated bill, as a share of the bill.
    minimum_payment_pct: Percent = Field(gt=0)
    actions: list[AdviceAction] = Field(min_length=1)
    # Customers whose limit a review keeps get the advice in their tips message.
    in_tips: bool = True

    @model_validator(mode="after")
    def _unique(self) -> AdvicePolicy:
        codes = [a.code for a in self.actions]
        if len(set(codes)) != len(codes):
            raise ValueError(f"actions: codes must be unique, got {codes}")
        return self


class CustomerPolicy(PolicyModel):
    """``customer.yaml``; ``version`` is the recorded ``<declared>+<content hash>``."""

    version: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._+-]*$", max_length=60)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    applications: ApplicationPolicy | None = None
    advice: AdvicePolicy | None = None
    purchases: PurchasePolicy | None = None
    requests: RequestPolicy | None = None
    # Texts of the reason codes this file names (the limit policy's own are in reasons.yaml).
    reasons: dict[ReasonCode, ReasonText] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _reasons_have_texts(self) -> CustomerPolicy:
        used = {
            f"applications.{w}": c
            for w, c in (self.applications.reason_codes_used() if self.applications else {}).items()
        }
        if self.purchases is not None:
            used |= {f"purchases.{w}": c for w, c in self.purchases.reason_codes_used().items()}
        if self.requests is not None:
            if self.purchases is None:
                raise ValueError("requests: needs the purchases section (its temporary_limit)")
            used |= self.requests.reason_codes_used()
        missing = [f"{w}: {c}" for w, c in used.items() if c not in self.reasons]
        if missing:
            raise ValueError(f"reason codes without a text under reasons: {'; '.join(missing)}")
        return self

    def reason_texts(self) -> dict[str, dict[str, str]]:
        return {c: {"zh-CN": t.zh_cn, "en": t.en} for c, t in self.reasons.items()}


def load_customer_policy(folder: Path | None = None) -> CustomerPolicy:
    """The ``customer.yaml`` of a policy folder (default: the shipped one); ``PolicyError``
    names the file and field that are wrong."""
    folder = default_policy_path() if folder is None else Path(folder)
    if folder.is_file():
        folder = folder.parent
    path = folder / CUSTOMER_FILE
    data = read_yaml_file(
        path,
        PolicyError,
        f"a policy folder for applications, advice and purchase plans holds {CUSTOMER_FILE}",
    )
    try:
        policy = CustomerPolicy.model_validate(data)
    except ValidationError as exc:
        raise PolicyError(validation_message(str(path), exc)) from exc
    checked = policy.model_dump(mode="json", by_alias=True, context={"money": "fen"})
    return policy.model_copy(update={"version": f"{policy.version}+{content_digest(checked)}"})


def application_limit_policy(limits: Policy, customer: CustomerPolicy) -> Policy:
    """The limit policy graded on the application model's PD bands of ``customer.yaml``: the
    grades (codes, initial ranges, caps, texts) stay the limit policy's, only the grading basis
    becomes PD. Raises ``PolicyError`` when the two files do not fit together."""
    from cardpilot.policy.schema import PdBand

    apps = customer.applications
    if apps is None:
        raise PolicyError(f"{CUSTOMER_FILE}: no applications section")
    lp = limits.limits
    if customer.currency != lp.currency:
        raise PolicyError(
            f"{CUSTOMER_FILE}: currency {customer.currency} but limits.yaml is in {lp.currency}"
        )
    codes = [g.code for g in lp.grades]
    if [g.grade for g in apps.grades] != codes:
        raise PolicyError(
            f"{CUSTOMER_FILE}: applications.grades must name the grades of limits.yaml, best"
            f" first: {', '.join(codes)}"
        )
    low = 0.0
    grades = []
    for grade, band in zip(lp.grades, apps.grades, strict=True):
        grades.append(grade.model_copy(update={"pd": PdBand(min=low, max=band.pd_below)}))
        low = band.pd_below
    grading = lp.grading.model_copy(update={"basis": "pd"})
    graded = lp.model_copy(update={"grades": grades, "grading": grading})
    return limits.model_copy(update={"limits": graded})


def customer_version(path: Path | None, policy: Policy) -> str | None:
    """The version of the folder's ``customer.yaml`` checked against its limit policy (None:
    the folder has none); ``PolicyError`` names what is wrong."""
    folder = path or default_policy_path()
    folder = folder.parent if folder.is_file() else folder
    if not (folder / CUSTOMER_FILE).is_file():
        return None
    customer = load_customer_policy(folder)
    if customer.applications is not None:
        application_limit_policy(policy, customer)
    return customer.version
