"""和谐还款 plans through the service: offer one to an overdue account, the customer's acceptance
or refusal, and one plan's status; the steps ``cardpilot plan offer | accept | decline |
status`` take (``cardpilot.jobs.plans``), each new step audited in its own transaction."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, Field

from cardpilot.domain.money import MoneyError, to_minor
from cardpilot.domain.plans import PlanKind
from cardpilot.jobs.plans import (
    PlanStoreError,
    PlanView,
    accept_plan,
    decline_plan,
    offer_plan,
    plan_id_for,
    plan_status,
)
from cardpilot.service.days import Day
from cardpilot.service.idempotency import Idempotent
from cardpilot.service.problems import PROBLEM_RESPONSES, ApiError
from cardpilot.service.security import CallerDep, state_of

router = APIRouter(prefix="/v1", tags=["plans"], responses=PROBLEM_RESPONSES)
Json = dict[str, Any]
SOURCE = "api"
_ID = r"^[A-Za-z0-9._:-]+$"
AccountId = Annotated[str, Path(min_length=1, max_length=64, pattern=_ID, description="Account id")]
PlanId = Annotated[
    str, Path(min_length=1, max_length=96, pattern=_ID, description="Plan id (HP-…)")
]
Yuan = Annotated[str, Field(pattern=r"^[0-9]{1,12}(\.[0-9]{1,2})?$", examples=["350.00"])]


class PlanOffer(BaseModel):
    kind: PlanKind = PlanKind.EQUAL_PRINCIPAL
    months: int = Field(default=6, ge=1, le=60)
    defer_months: int = Field(default=1, ge=0, le=12, description="Deferral plans only")
    on: Day | None = Field(default=None, description="Offer day; default today (issuer's zone)")
    penalty_fees: Yuan | None = Field(
        default=None,
        description="Penalty fees the waiver applies to, in major units; default: assessed"
        " from the policy's charges on the overdue balance",
    )


class PlanStep(BaseModel):
    on: Day | None = Field(default=None, description="Day of the step; default today")


def _today(request: Request) -> dt.date:
    return dt.datetime.now(ZoneInfo(state_of(request).settings.timezone)).date()


def _refused(exc: PlanStoreError) -> ApiError:
    text = str(exc)
    return ApiError(404 if "is not in the store" in text else 409, text)


@router.post(
    "/accounts/{account_id}/plans",
    response_model=Json,
    status_code=201,
    dependencies=[Idempotent],
    responses={200: {"description": "Offered on that day already: that plan"}},
)
def offer(
    request: Request,
    response: Response,
    who: CallerDep,
    account_id: AccountId,
    body: PlanOffer | None = None,
) -> Json:
    """Offer 和谐还款 to an overdue account on its latest treatment's terms (``plan offer``);
    refused (409) for a segment the policy does not offer it to, a tenor outside the plan
    terms, or a customer with an open plan. One offer per account and day."""
    state = state_of(request)
    body = body or PlanOffer()
    day = body.on or _today(request)
    try:
        fees = None if body.penalty_fees is None else to_minor(body.penalty_fees)
    except MoneyError as exc:
        raise ApiError(422, f"penalty_fees: {exc}") from None
    known = bool(plan_status(state.db, plan_id=plan_id_for(account_id, day)))
    try:
        view = offer_plan(
            state.db,
            account_id,
            state.overdue_policy,
            on=day,
            kind=body.kind,
            months=body.months,
            defer_months=body.defer_months,
            penalty_fees_minor=fees,
            actor=who.actor,
            source=SOURCE,
        )
    except PlanStoreError as exc:
        raise _refused(exc) from None
    if known:
        response.status_code = 200
    return view.as_json()


@router.get("/plans/{plan_id}", response_model=Json)
def plan(request: Request, who: CallerDep, plan_id: PlanId) -> Json:
    """One plan with its events, each transition with its reason (``plan status --plan``)."""
    views = plan_status(state_of(request).db, plan_id=plan_id)
    if not views:
        raise ApiError(404, f"plan {plan_id!r} is not in the store")
    return views[0].as_json()


def _step(request: Request, actor: str, plan_id: str, kind: str, body: PlanStep | None) -> Json:
    state = state_of(request)
    day = (body.on if body else None) or _today(request)
    step = accept_plan if kind == "accepted" else decline_plan
    try:
        view: PlanView = step(state.db, plan_id, on=day, actor=actor, source=SOURCE)
    except PlanStoreError as exc:
        raise _refused(exc) from None
    mine = [e for e in view.events if e["kind"] == kind]
    if mine and mine[-1]["outcome"] == "rejected":
        raise ApiError(409, f"{kind} refused: {mine[-1]['reason']}")
    return view.as_json()


@router.post("/plans/{plan_id}/accept", response_model=Json, dependencies=[Idempotent])
def accept(request: Request, who: CallerDep, plan_id: PlanId, body: PlanStep | None = None) -> Json:
    """Record the customer's own acceptance of an offered plan (``plan accept``); accepting
    again is the same acceptance."""
    return _step(request, who.actor, plan_id, "accepted", body)


@router.post("/plans/{plan_id}/decline", response_model=Json, dependencies=[Idempotent])
def decline(
    request: Request, who: CallerDep, plan_id: PlanId, body: PlanStep | None = None
) -> Json:
    """Record that the customer declined an offered plan (``plan decline``)."""
    return _step(request, who.actor, plan_id, "declined", body)
