"""Publishing a policy (``cardpilot policy publish``): new policy files, validated as every run
loads them, made a named policy of the local policy folder; never a change to one already
there. Listing, showing and comparing policies are with the other reads (``routes_work``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from cardpilot.jobs.policy_publish import (
    MAX_FILE_CHARS,
    PublishConflictError,
    PublishError,
    publish_policy,
)
from cardpilot.service.idempotency import Idempotent
from cardpilot.service.problems import PROBLEM_RESPONSES, ApiError
from cardpilot.service.security import CallerDep, state_of

router = APIRouter(prefix="/v1", tags=["policies"], responses=PROBLEM_RESPONSES)
PolicyFileName = Annotated[
    str, Field(pattern=r"^(limits|reasons|cases|customer|overdue|warning)\.yaml$")
]


class PolicyPublication(BaseModel):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    files: dict[PolicyFileName, Annotated[str, Field(max_length=MAX_FILE_CHARS)]] = Field(
        min_length=1,
        description="File name -> YAML text: limits.yaml with reasons.yaml (and cases.yaml,"
        " customer.yaml), overdue.yaml, warning.yaml",
    )


class PublishedPolicy(BaseModel):
    name: str
    versions: dict[str, str] = Field(description="File -> the version decisions record")


@router.post(
    "/policies", response_model=PublishedPolicy, status_code=201, dependencies=[Idempotent]
)
async def publish(request: Request, who: CallerDep, body: PolicyPublication) -> PublishedPolicy:
    """Publish a new policy under a name not yet taken; 422 names the file and field that are
    wrong, 409 a name already taken. Audited (``policy.publish``)."""
    state = state_of(request)
    try:
        published = await run_in_threadpool(
            publish_policy, state.db, body.name, body.files, state.settings, actor=who.actor
        )
    except PublishError as exc:
        raise ApiError(409 if isinstance(exc, PublishConflictError) else 422, str(exc)) from None
    return PublishedPolicy(name=published.name, versions=published.versions)
