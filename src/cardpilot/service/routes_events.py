"""Events intake over HTTP: a batch of spending and repayment events (``docs/events.schema.json``)
from another system of the bank, each validated as the consumer validates it
(``events.validation.parse_event``) and the valid ones published onto the event stream in the
batch's order, as ``cardpilot events publish`` publishes a file (``stream.publish``). A
malformed event is not published: the reply names its index, the field and the reason, and
the rest of the batch goes on. The consumer (``cardpilot events consume``) applies them.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from cardpilot.audit.chain import AuditEntry, digest_text
from cardpilot.events.schema import to_json
from cardpilot.events.validation import Rejection, parse_event
from cardpilot.service.idempotency import Idempotent
from cardpilot.service.problems import PROBLEM_RESPONSES, ApiError, Problem
from cardpilot.service.security import CallerDep, state_of
from cardpilot.store.audit import record_audit
from cardpilot.stream.broker import BrokerError
from cardpilot.stream.publish import publish_lines

router = APIRouter(prefix="/v1", tags=["events"], responses=PROBLEM_RESPONSES)
MAX_BATCH = 1_000


class EventBatch(BaseModel):
    events: list[dict[str, Any]] = Field(
        min_length=1,
        max_length=MAX_BATCH,
        description="Events as JSON objects (schema: docs/events.schema.json), in the order"
        " the issuer's system recorded them",
    )


class EventError(BaseModel):
    index: int = Field(description="Position of the event in the batch, from 0")
    event_id: str | None
    account_id: str | None
    field: str = Field(description="Dotted path of the field; $ for the whole event")
    reason: str


class EventsAccepted(BaseModel):
    published: int = Field(description="Events the stream confirmed")
    rejected: list[EventError]
    subject: str


@router.post(
    "/events",
    response_model=EventsAccepted,
    status_code=202,
    dependencies=[Idempotent],
    responses={503: {"model": Problem, "description": "The broker is not reachable"}},
)
async def intake(request: Request, who: CallerDep, body: EventBatch) -> EventsAccepted:
    """Publish a batch of events onto the event stream (accepted: the consumer applies them);
    malformed events are left out and named. Publishing an event id again is harmless: the
    consumer applies an event id once."""
    state = state_of(request)
    lines: list[bytes] = []
    rejected: list[EventError] = []
    for index, raw in enumerate(body.events):
        parsed = parse_event(_json_bytes(raw))
        if isinstance(parsed, Rejection):
            rejected.append(
                EventError(
                    index=index,
                    event_id=parsed.event_id,
                    account_id=parsed.account_id,
                    field=parsed.field,
                    reason=parsed.reason,
                )
            )
        else:
            lines.append(to_json(parsed))
    published = 0
    if lines:
        try:
            published = (await publish_lines(state.broker, iter(lines))).published
        except BrokerError as exc:
            raise ApiError(503, str(exc)) from None
        payload = {
            "subject": state.broker.subject,
            "published": published,
            "rejected": len(rejected),
            "digest": digest_text("\n".join(line.decode() for line in lines)),
        }
        entry = AuditEntry(who.actor, "events.publish", f"stream:{state.broker.stream}", payload)
        await run_in_threadpool(record_audit, state.db, entry)
    return EventsAccepted(published=published, rejected=rejected, subject=state.broker.subject)


def _json_bytes(value: dict[str, Any]) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
