"""``Idempotency-Key`` on the state-changing requests: a caller that retries a request it is
not sure went through sends the same key, and gets the first answer again instead of a second
effect.

The routes declare :func:`idempotent` (the header is then in their OpenAPI document): it
claims the caller's key for the request (``store.idempotency``) before the route runs, answers a
retry of an answered request with the kept answer (``Idempotent-Replayed: true``), refuses a
key sent before with a different request (422) or while its first request is still being
answered (409). :class:`IdempotentAnswers` keeps a claimed request's answer when it is a
success (2xx), and frees the key otherwise, so a failed request may be retried with its key.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cardpilot.service.problems import ApiError
from cardpilot.service.security import CallerDep, route_key, state_of
from cardpilot.store.idempotency import Claim, Outcome, claim_request, keep_answer, release_claim

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
_CLAIMED = "idempotency_claim"  # in the request's scope state: (engine, actor, key)

KeyHeader = Annotated[
    str | None,
    Header(
        alias=HEADER,
        min_length=1,
        max_length=255,
        pattern=r"^[!-~]+$",
        description="A key of the caller's choosing (e.g. a UUID), new for each new request."
        " A retry with the same key and the same request (method, path, query and body, byte for"
        " byte) gets the first successful answer again, marked Idempotent-Replayed: true, without"
        " acting twice; the same key with a different request is refused (422), and while the"
        " first request is still being answered (409). Answers are kept 24 hours; a request that"
        " failed may be retried with its key.",
    ),
]


class AnsweredBeforeError(Exception):
    """The request was answered before: its kept answer."""

    def __init__(self, claim: Claim) -> None:
        super().__init__("replayed")
        self.claim = claim


def fingerprint(method: str, path: str, query: bytes, body: bytes) -> str:
    """What makes two requests the same request."""
    digest = hashlib.sha256()
    for part in (method.encode("ascii"), path.encode("utf-8"), query, body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


async def idempotent(request: Request, who: CallerDep, key: KeyHeader = None) -> None:
    """The route's dependency: see the module's documentation."""
    if key is None:
        return
    state = state_of(request)
    body = await request.body()
    asked = fingerprint(request.method, request.url.path, request.scope["query_string"], body)
    claim = await run_in_threadpool(
        claim_request, state.db, who.actor, key, route_key(request), asked
    )
    if claim.outcome is Outcome.CLAIMED:
        request.scope.setdefault("state", {})[_CLAIMED] = (state.db, who.actor, key)
    elif claim.outcome is Outcome.REPLAY:
        raise AnsweredBeforeError(claim)
    elif claim.outcome is Outcome.MISMATCH:
        raise ApiError(
            422,
            f"this {HEADER} was sent before with a different request: send a new key with a new"
            " request",
        )
    else:
        raise ApiError(409, f"the first request with this {HEADER} is still being answered")


async def _replay(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AnsweredBeforeError)
    claim = exc.claim
    return Response(
        claim.body or b"",
        status_code=claim.status or 200,
        media_type=claim.media_type,
        headers={REPLAYED_HEADER: "true"},
    )


def install_replay_handler(app: FastAPI) -> None:
    app.add_exception_handler(AnsweredBeforeError, _replay)


def _media_type(start: Message) -> str | None:
    for name, value in start.get("headers", ()):
        if name.lower() == b"content-type":
            return bytes(value).decode("latin-1")
    return None


class IdempotentAnswers:
    """Plain ASGI middleware: the answer to a request that claimed its key is kept (a success)
    or the key freed (anything else, an exception included) before the answer is sent, so that
    a retry arriving after the answer never finds the key still claimed."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        held: list[Message] = []

        async def hold_claimed(message: Message) -> None:
            claimed = scope.get("state", {}).get(_CLAIMED)
            if claimed is None:
                await send(message)
                return
            held.append(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                del scope["state"][_CLAIMED]
                await _settle(claimed, held)
                for part in held:
                    await send(part)

        try:
            await self.app(scope, receive, hold_claimed)
        finally:
            claimed = scope.get("state", {}).pop(_CLAIMED, None)
            if claimed is not None:  # no whole answer: the route failed
                await run_in_threadpool(release_claim, *claimed)


async def _settle(claimed: tuple[Any, str, str], held: list[Message]) -> None:
    start = held[0]
    status = int(start["status"])
    if 200 <= status < 300:
        body = b"".join(m.get("body", b"") for m in held if m["type"] == "http.response.body")
        await run_in_threadpool(keep_answer, *claimed, status, _media_type(start), body)
    else:
        await run_in_threadpool(release_claim, *claimed)


Idempotent = Depends(idempotent)  # a state-changing route's ``dependencies=[Idempotent]``
