"""A malformed event is rejected with the field and the reason, never an exception."""

from __future__ import annotations

import json

import pytest

from cardpilot.events.schema import Purchase
from cardpilot.events.validation import Rejection, parse_event

from .factories import raw


def _rejected(data: object) -> Rejection:
    result = parse_event(json.dumps(data).encode() if not isinstance(data, bytes) else data)
    assert isinstance(result, Rejection)
    return result


def test_a_valid_event_parses() -> None:
    assert isinstance(parse_event(json.dumps(raw("purchase", 2)).encode()), Purchase)


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"amount_minor": -5}, "amount_minor", "greater than 0"),
        ({"amount_minor": 10.5}, "amount_minor", "integer"),
        ({"currency": "yuan"}, "currency", "pattern"),
        ({"occurred_at": "2026-11-01T09:00:00"}, "occurred_at", "timezone"),
        ({"sequence": 0}, "sequence", "greater than or equal to 1"),
        ({"type": "gift"}, "type", "not an event type"),
        ({"schema_version": 2}, "schema_version", "not a supported version"),
        ({"colour": "red"}, "colour", "Extra inputs"),
    ],
)
def test_a_malformed_event_names_its_field_and_reason(
    change: dict[str, object], field: str, words: str
) -> None:
    why = _rejected(raw("purchase", 2) | change)
    assert (why.field, why.kind) == (field, "malformed")
    assert words in why.reason
    assert why.event_id == "A1-2"


def test_a_missing_field_is_named() -> None:
    data = raw("payment", 2)
    del data["amount_minor"]
    why = _rejected(data)
    assert (why.field, why.reason) == ("amount_minor", "Field required")


def test_text_that_is_not_json_is_rejected_as_a_whole() -> None:
    why = _rejected(b"{not json")
    assert why.field == "$"
    assert why.reason.startswith("not JSON")


def test_a_json_value_that_is_not_an_object_is_rejected() -> None:
    assert "JSON object" in _rejected([1, 2]).reason
