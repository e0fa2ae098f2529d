"""The event schema: versioned, documented as JSON Schema, one model per event type."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cardpilot.events.schema import EVENT_ADAPTER, EventType, event_json_schema_text, to_json

from .factories import raw

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "docs" / "events.schema.json"


def test_the_documented_json_schema_is_the_one_the_models_generate() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == event_json_schema_text(), (
        "regenerate: python -c 'from cardpilot.events.schema import event_json_schema_text as t;"
        ' print(t(), end="")\' > docs/events.schema.json'
    )


def test_the_schema_names_every_event_type_and_requires_the_common_fields() -> None:
    schema = json.loads(event_json_schema_text())
    assert set(schema["discriminator"]["mapping"]) == {t.value for t in EventType}
    for definition in schema["$defs"].values():
        if "schema_version" in definition.get("properties", {}):
            assert {"schema_version", "event_id", "account_id", "sequence", "occurred_at"} <= set(
                definition["required"]
            )


@pytest.mark.parametrize("kind", [t.value for t in EventType])
def test_every_event_type_round_trips_through_its_json(kind: str) -> None:
    event = EVENT_ADAPTER.validate_python(raw(kind, 3))
    assert EVENT_ADAPTER.validate_json(to_json(event)) == event
