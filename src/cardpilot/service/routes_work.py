"""Human-review cases, plan quotes, review runs and their counts, policies, the audit trail."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field

from cardpilot.domain.money import MoneyError, to_minor
from cardpilot.domain.plans import PlanError, PlanKind, quote_plan
from cardpilot.jobs.cases import CaseError, decide_review_case, open_review_case
from cardpilot.jobs.review import cycle_counts
from cardpilot.policy.catalogue import LIMITS, find_policy, policy_entries
from cardpilot.policy.diff import diff_policies
from cardpilot.policy.loading import PolicyError, load_policy
from cardpilot.policy.schema import Policy
from cardpilot.service.days import Day, PlainText
from cardpilot.service.idempotency import Idempotent
from cardpilot.service.plans import quote_json
from cardpilot.service.problems import PROBLEM_RESPONSES, ApiError
from cardpilot.service.security import CallerDep, state_of
from cardpilot.store.audit import iter_records, verify_chain
from cardpilot.store.cases import list_cases
from cardpilot.store.review_runs import list_review_runs, review_run

router = APIRouter(prefix="/v1", responses=PROBLEM_RESPONSES)
Json = dict[str, Any]
Yuan = Annotated[str, Field(pattern=r"^[0-9]{1,12}(\.[0-9]{1,2})?$", examples=["12000.00"])]
PolicyName = Annotated[
    str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
]


# --------------------------------------------------------------------------- cases


class CaseOpen(BaseModel):
    account_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")
    reason: PlainText = Field(min_length=1, max_length=2000)
    requested_by: Literal["customer", "analyst"] = "customer"


class CaseDecision(BaseModel):
    outcome: Literal["uphold", "override"]
    reason: PlainText = Field(min_length=1, max_length=2000)
    new_limit: Yuan | None = Field(default=None, description="With override: the new limit")


def _case_error(exc: CaseError) -> ApiError:
    text = str(exc)
    return ApiError(404 if "not in the store" in text or "does not exist" in text else 409, text)


@router.get("/cases", tags=["cases"], response_model=Json)
def cases(
    request: Request,
    who: CallerDep,
    status: Annotated[Literal["open", "decided"] | None, Query()] = None,
) -> Json:
    """Human-review cases in the order they were opened."""
    return {"cases": [c.as_json() for c in list_cases(state_of(request).db, status)]}


@router.post(
    "/cases", tags=["cases"], response_model=Json, status_code=201, dependencies=[Idempotent]
)
def open_case(request: Request, who: CallerDep, body: CaseOpen) -> Json:
    """Open a case on the account's latest limit decision (PIPL art. 24); audited."""
    try:
        case = open_review_case(
            state_of(request).db,
            body.account_id,
            body.reason,
            requested_by=body.requested_by,
            actor=who.actor,
        )
    except CaseError as exc:
        raise _case_error(exc) from None
    return case.as_json()


@router.post(
    "/cases/{case_id}/decision", tags=["cases"], response_model=Json, dependencies=[Idempotent]
)
def decide_case(
    request: Request,
    who: CallerDep,
    case_id: Annotated[int, Path(ge=1, le=2**62)],
    body: CaseDecision,
) -> Json:
    """Uphold or override the case's decision: stored, audited, told to the customer."""
    state = state_of(request)
    new_limit = None if body.new_limit is None else to_minor(body.new_limit)
    try:
        case = decide_review_case(
            state.db,
            case_id,
            body.outcome,
            body.reason,
            state.case_policy,
            new_limit_minor=new_limit,
            actor=who.actor,
        )
    except CaseError as exc:
        raise _case_error(exc) from None
    return case.as_json()


# --------------------------------------------------------------------------- plans


class QuoteRequest(BaseModel):
    principal: Yuan
    months: int = Field(ge=1, le=60)
    kind: PlanKind = PlanKind.EQUAL_PRINCIPAL
    monthly_fee_rate: Decimal | None = Field(
        default=None, ge=0, le=Decimal("0.1"), decimal_places=6, examples=["0.006"]
    )
    start: Day | None = None
    defer_months: int = Field(default=1, ge=0, le=12)


@router.post("/plans/quote", tags=["plans"], response_model=Json)
def quote(request: Request, who: CallerDep, body: QuoteRequest) -> Json:
    """A plan's full schedule, its APR (monthly IRR × 12) and effective rate (``plan quote``)."""
    state = state_of(request)
    terms = getattr(state.overdue_policy.file.plans, body.kind.value)
    rate = body.monthly_fee_rate if body.monthly_fee_rate is not None else terms.monthly_rate
    try:
        q = quote_plan(
            body.kind,
            to_minor(body.principal),
            body.months,
            rate,
            body.start or dt.datetime.now(ZoneInfo(state.settings.timezone)).date(),
            defer_months=body.defer_months if body.kind is PlanKind.DEFERRAL else 0,
            max_tenor_months=state.overdue_policy.file.plans.max_tenor_months,
        )
    except (PlanError, MoneyError, OverflowError) as exc:
        raise ApiError(422, str(exc)) from None
    policy = state.overdue_policy
    return quote_json(q, policy.version, policy.file.currency)


# --------------------------------------------------------------------------- review runs


@router.get("/review-runs", tags=["reviews"], response_model=Json)
def runs(
    request: Request,
    who: CallerDep,
    before: Annotated[int | None, Query(ge=1, le=2**62, description="Next page: ids below")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Json:
    """Review runs, newest first, with their counts."""
    found = list_review_runs(state_of(request).db, before=before, limit=limit)
    return {"runs": found, "next_before": found[-1]["id"] if len(found) == limit else None}


@router.get("/review-runs/{run_id}", tags=["reviews"], response_model=Json)
def run(request: Request, who: CallerDep, run_id: Annotated[int, Path(ge=1, le=2**62)]) -> Json:
    """One run and its cycle's decisions by action, grade and segment."""
    state = state_of(request)
    found = review_run(state.db, run_id)
    if found is None:
        raise ApiError(404, f"review run {run_id} does not exist")
    return {"run": found, "cycle": cycle_counts(state.db, str(found["cycle_id"]))}


# --------------------------------------------------------------------------- policies


def _policy(request: Request, name: str) -> Policy:
    """A limit policy by name only (never a path: a caller names what the catalogue holds)."""
    entry = find_policy(name, state_of(request).settings)
    if entry is None or not entry.holds(LIMITS):
        raise ApiError(404, f"no limit policy named {name!r}; see GET /v1/policies")
    try:
        return load_policy(entry.path)
    except PolicyError as exc:
        raise ApiError(409, str(exc)) from None


@router.get("/policies", tags=["policies"], response_model=Json)
def policies(request: Request, who: CallerDep) -> Json:
    """The policies a name can name: shipped and local, with currency and versions."""
    return {"policies": [e.as_dict() for e in policy_entries(state_of(request).settings)]}


@router.get("/policies/{name}", tags=["policies"], response_model=Json)
def policy(request: Request, who: CallerDep, name: PolicyName) -> Json:
    """A limit policy as validated: grades, segments, limits, guards, reasons."""
    chosen = _policy(request, name)
    return {"version": chosen.version, "policy": chosen.model_dump(mode="json", by_alias=True)}


@router.get("/policies/{name}/diff/{other}", tags=["policies"], response_model=Json)
def diff(request: Request, who: CallerDep, name: PolicyName, other: PolicyName) -> Json:
    """Every value that differs between two limit policies."""
    old, new = _policy(request, name), _policy(request, other)
    return {
        "old_version": old.version,
        "new_version": new.version,
        "changes": [c.as_dict() for c in diff_policies(old, new)],
    }


# --------------------------------------------------------------------------- audit


@router.get("/audit/records", tags=["audit"], response_model=Json)
def audit_records(
    request: Request,
    who: CallerDep,
    since: Annotated[dt.datetime | None, Query(description="ISO 8601 with offset")] = None,
    until: Annotated[dt.datetime | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Json:
    """Audit records of a period in chain order (``audit export``), at most ``limit``."""
    out = []
    for record in iter_records(state_of(request).db, since=_utc(since), until=_utc(until)):
        out.append(record.as_json())
        if len(out) >= limit:
            break
    return {"records": out}


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)


@router.get("/audit/verify", tags=["audit"], response_model=Json)
def audit_verify(request: Request, who: CallerDep) -> Json:
    """Check the whole chain; names the first record that does not hold."""
    checked, broken = verify_chain(state_of(request).db)
    return {
        "ok": broken is None,
        "checked": checked,
        "broken": None if broken is None else broken.as_json(),
    }
