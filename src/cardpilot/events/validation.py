"""An event read from the broker: validated, or rejected with the field and the reason.

A rejection is what the dead-letter subject receives: the event id and account when they could
be read, the field (a dotted path, ``amount_minor``; ``$`` for the whole message) and a reason a
person can act on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from cardpilot.events.schema import EVENT_ADAPTER, SUPPORTED_VERSIONS, Event, EventType


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why an event is not applied; what the dead-letter message says."""

    field: str
    reason: str
    kind: str  # malformed | late | conflict | unknown_account
    event_id: str | None = None
    account_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "account_id": self.account_id,
            "kind": self.kind,
            "field": self.field,
            "reason": self.reason,
        }


def _text_field(data: dict[str, Any], name: str) -> str | None:
    value = data.get(name)
    return value if isinstance(value, str) else None


def _location(loc: tuple[int | str, ...]) -> str:
    # The discriminated union puts the type's name first ("purchase.amount_minor"); the field
    # is what follows it.
    parts = [str(p) for p in loc]
    if len(parts) > 1 and parts[0] in _TYPES:
        parts = parts[1:]
    return ".".join(parts) or "$"


_TYPES = tuple(t.value for t in EventType)


def parse_event(raw: bytes | str) -> Event | Rejection:
    """``raw`` as an event, or the first thing wrong with it."""
    try:
        # The common case in one pass (JSON parsed and validated in pydantic-core); what is
        # wrong with the rest is worked out below, field by field.
        return EVENT_ADAPTER.validate_json(raw)
    except ValidationError:
        pass
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return Rejection("$", f"not JSON: {exc}", "malformed")
    if not isinstance(data, dict):
        return Rejection("$", f"an event is a JSON object, not {type(data).__name__}", "malformed")
    ids = {"event_id": _text_field(data, "event_id"), "account_id": _text_field(data, "account_id")}
    version = data.get("schema_version")
    if version not in SUPPORTED_VERSIONS:
        known = ", ".join(str(v) for v in sorted(SUPPORTED_VERSIONS))
        return Rejection(
            "schema_version",
            f"{version!r} is not a supported version ({known})",
            "malformed",
            **ids,
        )
    try:
        return EVENT_ADAPTER.validate_python(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        field = _location(first["loc"])
        reason = str(first["msg"])
        if first["type"] == "union_tag_invalid":
            field, reason = (
                "type",
                f"{data.get('type')!r} is not an event type ({', '.join(_TYPES)})",
            )
        elif first["type"] == "union_tag_not_found":
            field, reason = "type", "missing: every event names its type"
        return Rejection(field, reason, "malformed", **ids)
