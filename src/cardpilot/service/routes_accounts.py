"""``/v1/accounts``: the listing, one account's story, its score, its limit decision now
(previewed or committed), the explanation of its latest decision and its 和谐还款 plans."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from cardpilot.accounts.story import account_story
from cardpilot.audit.chain import AuditEntry
from cardpilot.domain.money import format_major
from cardpilot.jobs.explain import ExplainError, explain_account
from cardpilot.jobs.plans import plan_status
from cardpilot.policy.permissions import UNMASK
from cardpilot.service import decisions
from cardpilot.service.days import Day
from cardpilot.service.figures_response import ConventionResponse, FiguresResponse
from cardpilot.service.idempotency import Idempotent
from cardpilot.service.problems import PROBLEM_RESPONSES, ApiError
from cardpilot.service.security import CallerDep, state_of
from cardpilot.service.state import ServiceState
from cardpilot.store.account_pages import account_page
from cardpilot.store.audit import record_audit

router = APIRouter(prefix="/v1/accounts", tags=["accounts"], responses=PROBLEM_RESPONSES)

AccountId = Annotated[
    str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$", description="Account id")
]
AsOf = Annotated[
    Day | None,
    Query(description="The day (YYYY-MM-DD); default: the day after the store's latest cycle"),
]
Json = dict[str, Any]


class AccountSummary(BaseModel):
    account_id: str
    customer_id: str | None
    currency: str
    credit_limit: str = Field(description="Decimal string in major units of the currency")
    status: str | None
    grade: str | None
    segment: str | None


class AccountPage(BaseModel):
    accounts: list[AccountSummary]
    next_after: str | None = Field(description="Pass as ?after= for the next page; null: last")


class DecisionRequest(BaseModel):
    as_of: Day | None = Field(default=None, description="Default: as for a review")


@router.get("", response_model=AccountPage)
def list_accounts(
    request: Request,
    who: CallerDep,
    after: Annotated[
        str | None, Query(max_length=64, description="Last id of the page before")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AccountPage:
    """Accounts in id order, a page at a time."""
    state = state_of(request)
    with state.db.connect() as conn:
        rows = account_page(conn, after, limit)
    accounts = [
        AccountSummary(
            **{k: v for k, v in r.items() if k != "credit_limit_minor"},
            credit_limit=format_major(int(r["credit_limit_minor"])),
        )
        for r in rows
    ]
    last = accounts[-1].account_id if len(accounts) == limit else None
    return AccountPage(accounts=accounts, next_after=last)


def _story(state: ServiceState, account_id: str, day: dt.date, masked: bool) -> Json | None:
    with state.db.connect() as conn:
        return account_story(conn, account_id, day, state.cipher.decrypt, masked=masked)


@router.get("/{account_id}", response_model=Json)
async def show_account(
    request: Request,
    who: CallerDep,
    account_id: AccountId,
    as_of: Annotated[
        dt.date | None, Query(description="Story up to this day; default today")
    ] = None,
    unmask: Annotated[bool, Query(description="Personal data in clear (audited)")] = False,
) -> Response:
    """The account's story (``cardpilot account show``); personal data masked unless the
    caller's role may unmask it and asks to, and then the view is audited."""
    state = state_of(request)
    if unmask and not state.matrix.holds(who.role, UNMASK):
        raise ApiError(403, f"role {who.role!r} may not see personal data unmasked")
    day = as_of or dt.datetime.now(ZoneInfo(state.settings.timezone)).date()
    if state.reads_on_loop:
        story = _story(state, account_id, day, not unmask)
    else:
        story = await run_in_threadpool(_story, state, account_id, day, not unmask)
    if story is None:
        raise ApiError(404, f"account {account_id!r} is not in the store")
    if unmask:
        payload = {"route": "GET /v1/accounts/{account_id}", "as_of": day.isoformat()}
        entry = AuditEntry(who.actor, "personal_data.view", f"account:{account_id}", payload)
        await run_in_threadpool(record_audit, state.db, entry)  # a write may wait for a lock
    # Rendered here: FastAPI's own pass over a loosely typed answer costs more than the read.
    return ConventionResponse(story)


@router.post("/{account_id}/score", response_model=Json)
def score(request: Request, who: CallerDep, account_id: AccountId, as_of: AsOf = None) -> Json:
    """The account's score, PD and reasons, as the review scores it on ``as_of``."""
    state = state_of(request)
    day = as_of or state.default_as_of()
    return decisions.score_json(decisions.score_account(state, account_id, day), day)


@router.post("/{account_id}/decision/preview", response_model=Json)
def preview(
    request: Request, who: CallerDep, account_id: AccountId, body: DecisionRequest | None = None
) -> Response:
    """The limit decision the review would make now; nothing is stored (a dry run)."""
    state = state_of(request)
    day = (body.as_of if body else None) or state.default_as_of()
    return FiguresResponse(decisions.preview_decision(state, account_id, day))


@router.post(
    "/{account_id}/decisions",
    response_model=Json,
    status_code=201,
    dependencies=[Idempotent],
    responses={200: {"description": "Decided in this cycle already: that decision"}},
)
def commit(
    request: Request,
    response: Response,
    who: CallerDep,
    account_id: AccountId,
    body: DecisionRequest | None = None,
) -> Json:
    """Decide the account's limit now and store it as the review would: the decision, the new
    limit, the customer's notice (outbox) and an audit record. Idempotent within a cycle."""
    state = state_of(request)
    day = (body.as_of if body else None) or state.default_as_of()
    written, decision = decisions.commit_decision(state, account_id, day, who.actor)
    if not written:
        response.status_code = 200
    return {"committed": written, "decision": decision}


@router.get("/{account_id}/explanation", response_model=Json)
def explanation(request: Request, who: CallerDep, account_id: AccountId) -> Json:
    """The whole explanation of the account's latest limit decision (``review explain``)."""
    state = state_of(request)
    try:
        return explain_account(state.db, account_id, state.require_scorer(), state.policy)
    except ExplainError as exc:
        status = 404 if "not in the store" in str(exc) else 409
        raise ApiError(status, str(exc)) from None


@router.get("/{account_id}/plans", response_model=Json)
def plans(request: Request, who: CallerDep, account_id: AccountId) -> Json:
    """The account's 和谐还款 plans with their events (``plan status --account``)."""
    state = state_of(request)
    views = plan_status(state.db, account_id=account_id)
    return {"account_id": account_id, "plans": [v.as_json() for v in views]}
