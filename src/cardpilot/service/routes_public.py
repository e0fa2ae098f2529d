"""What needs no role: health, readiness, metrics and signing in; and ``/v1/me``."""

from __future__ import annotations

import os
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import OAuth2PasswordRequestForm
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError

from cardpilot.service.credentials import issue_token, password_matches
from cardpilot.service.problems import PROBLEM_RESPONSES, ApiError, Problem
from cardpilot.service.security import CallerDep, state_of
from cardpilot.store.db import current_revision, head_revision
from cardpilot.store.service_callers import user_by_name

router = APIRouter(responses=PROBLEM_RESPONSES)


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    store: str
    revision: str | None
    head: str | None


class Token(BaseModel):
    access_token: str
    token_type: str
    expires_in: int


class Me(BaseModel):
    actor: str
    role: str


@router.get("/health", response_model=Health, tags=["service"])
def health() -> Health:
    """The process answers."""
    return Health(status="ok")


@router.get(
    "/ready",
    response_model=Readiness,
    tags=["service"],
    responses={503: {"model": Problem, "description": "Not ready"}},
)
def ready(request: Request) -> Readiness:
    """The store is reachable, its schema is at the migrations' head, and the worker has read
    what every decision needs (the store's default day)."""
    state = state_of(request)
    if not state.warmed.is_set():
        raise ApiError(503, "warming up: reading the store's latest statement cycle")
    try:
        revision = current_revision(state.db)
    except SQLAlchemyError as exc:
        raise ApiError(503, f"the store is not reachable ({type(exc).__name__})") from None
    head = head_revision()
    if revision != head:
        raise ApiError(503, f"the store is at {revision}, not {head}: run cardpilot db upgrade")
    return Readiness(status="ready", store=state.db.dialect.name, revision=revision, head=head)


@router.get(
    "/metrics",
    tags=["service"],
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus"}},
)
def metrics() -> Response:
    """Prometheus metrics (every worker's, when there are several)."""
    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


@router.post("/v1/auth/token", response_model=Token, tags=["auth"])
def token(request: Request, form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> Token:
    """Sign in (OAuth2 password flow): a bearer token for ``token_minutes``."""
    state = state_of(request)
    user = user_by_name(state.db, form.username)
    if user is None or user.disabled or not password_matches(user.password_hash, form.password):
        raise ApiError(401, "unknown user, wrong password or disabled user")
    signed, seconds = issue_token(
        state.signing_keys, user.username, user.role, state.settings.token_minutes
    )
    return Token(access_token=signed, token_type="bearer", expires_in=seconds)


@router.get("/v1/me", response_model=Me, tags=["auth"])
def me(who: CallerDep) -> Me:
    """Who the credentials stand for, and their role."""
    return Me(actor=who.actor, role=who.role)
