"""The event intake's policy (``events.yaml``): the late window and the spending average's months.

Validated like every policy file (unknown keys are errors, each error names its field); the
recorded version is ``<declared>+<hash of the validated content>``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from importlib import resources
from pathlib import Path

import yaml
from pydantic import Field, ValidationError

from cardpilot.policy.base import PolicyModel, validation_message

EVENTS_FILE = "events.yaml"
HASH_CHARS = 12


class EventsPolicyError(ValueError):
    """A policy file that cannot be used: names the file, the field and what is wrong."""


class EventsPolicy(PolicyModel):
    version: str = Field(min_length=1)
    late_window_hours: int = Field(ge=0, le=24 * 92)
    spending_average_months: int = Field(ge=1, le=24)

    @property
    def late_window(self) -> dt.timedelta:
        return dt.timedelta(hours=self.late_window_hours)

    @property
    def recorded_version(self) -> str:
        content = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return f"{self.version}+{hashlib.sha256(content.encode()).hexdigest()[:HASH_CHARS]}"


def default_events_policy_path() -> Path:
    return Path(str(resources.files("cardpilot") / "policies" / "default" / EVENTS_FILE))


def load_events_policy(path: Path | None = None) -> EventsPolicy:
    """The policy in ``path`` (the shipped default when None), validated."""
    path = path or default_events_policy_path()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise EventsPolicyError(f"{path}: cannot read: {exc}") from exc
    try:
        return EventsPolicy.model_validate(data)
    except ValidationError as exc:
        raise EventsPolicyError(validation_message(str(path), exc)) from exc
