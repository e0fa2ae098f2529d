"""Who is calling, and whether the permission matrix lets them: the dependencies every route
declares. A caller is a staff member with a bearer token (``POST /v1/auth/token``) or a system
with an API key (``X-API-Key: cpk_<id>.<secret>``). The route's permission is looked up in the
matrix by the route's own ``METHOD /path`` template, so one file decides every route.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer
from starlette.concurrency import run_in_threadpool

from cardpilot.service.credentials import (
    CredentialError,
    secret_matches,
    split_api_key,
    verify_token,
)
from cardpilot.service.problems import ApiError
from cardpilot.service.state import ServiceState
from cardpilot.store.service_callers import api_key_by_id

TOKEN_URL = "/v1/auth/token"
_bearer = OAuth2PasswordBearer(tokenUrl=TOKEN_URL, auto_error=False)
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False)
_CHALLENGE = {"WWW-Authenticate": 'Bearer, ApiKey header="X-API-Key"'}


@dataclass(frozen=True)
class Caller:
    """Who made the request: ``user:NAME`` or ``key:ID``, in a role of the matrix."""

    actor: str
    role: str


def state_of(request: Request) -> ServiceState:
    state: ServiceState = request.app.state.service
    return state


def route_key(request: Request) -> str:
    """``METHOD /template`` of the matched route: its row in the permission matrix."""
    route = request.scope.get("route")
    return f"{request.method} {getattr(route, 'path', request.url.path)}"


def _unauthorised(detail: str) -> ApiError:
    return ApiError(401, detail, headers=_CHALLENGE)


def _key_row(state: ServiceState, key_id: str) -> tuple[str, str, bool]:
    """The key's digest, role and whether it is live, as the store has it now."""
    row = api_key_by_id(state.db, key_id)
    found = (row.secret_sha256, row.role, row.revoked_at is None) if row else ("", "", False)
    state.cache.put(("key", key_id), found)
    return found


async def _key_caller(state: ServiceState, presented: str) -> Caller:
    parts = split_api_key(presented)
    if parts is None:
        raise _unauthorised("X-API-Key is not a cardpilot key (cpk_<id>.<secret>)")
    key_id, secret = parts
    # What a worker read of a key is trusted for CACHE_SECONDS (a revoked key stops working
    # within them); only a miss reads the store, on the thread pool.
    cached = state.cache.get(("key", key_id))
    if cached is None:
        cached = await run_in_threadpool(_key_row, state, key_id)
    digest, role, live = cached
    if not live or not secret_matches(digest, secret):
        raise _unauthorised("the API key is unknown or revoked")
    return Caller(f"key:{key_id}", role)


async def caller(
    request: Request,
    token: Annotated[str | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key)],
) -> Caller:
    """The signed-in caller, allowed by the matrix to call this route; 401 / 403 otherwise.
    Run on the event loop: a token's check and a cached key's are a few microseconds, less than
    a hop to the thread pool and back."""
    state = state_of(request)
    if api_key:
        who = await _key_caller(state, api_key)
    elif token:
        try:
            claims = verify_token(state.signing_keys, token)
        except CredentialError as exc:
            raise _unauthorised(str(exc)) from None
        who = Caller(f"user:{claims.subject}", claims.role)
    else:
        raise _unauthorised("sign in: a bearer token (POST /v1/auth/token) or an X-API-Key")
    route = route_key(request)
    if not state.matrix.allows(route, who.role):
        raise ApiError(403, f"role {who.role!r} may not call {route}")
    return who


CallerDep = Annotated[Caller, Depends(caller)]
