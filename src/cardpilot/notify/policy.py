"""The notify policy file (``policies/templates/notify.yaml``): types, manners, retries."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "policies" / "templates"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MessageType(_Strict):
    category: str
    channels: tuple[str, ...]


class QuietHours(_Strict):
    start: str = "21:00"
    end: str = "08:00"
    channels: tuple[str, ...] = ("sms", "app")

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        parse_hhmm(value)
        return value


class FrequencyCap(_Strict):
    max_messages: int = Field(3, ge=1)
    window_hours: int = Field(24, ge=1)


class Retry(_Strict):
    max_attempts: int = Field(8, ge=1)
    backoff_seconds: float = Field(30, gt=0)
    backoff_cap_seconds: float = Field(3600, gt=0)

    def backoff(self, attempts: int) -> dt.timedelta:
        """Delay before the next try after ``attempts`` failed tries (exponential, capped)."""
        seconds = min(self.backoff_cap_seconds, self.backoff_seconds * 2 ** max(0, attempts - 1))
        return dt.timedelta(seconds=seconds)


class LimitNotices(_Strict):
    decrease_notice_days: int = Field(0, ge=0, le=365)
    tips_after_keep: tuple[str, ...] = ()
    sms_max_chars: dict[str, int] = Field(default_factory=lambda: {"zh-CN": 134, "en": 459})
    grade_labels: dict[str, dict[str, str]] = Field(default_factory=dict)
    sms_length_enforced_for: tuple[str, ...] = ("limit_change", "limit_tips")

    def sms_limit(self, locale: str) -> int:
        return self.sms_max_chars.get(locale, min(self.sms_max_chars.values(), default=134))


class NotifyPolicy(_Strict):
    version: str
    issuer: dict[str, dict[str, str]]
    message_types: dict[str, MessageType]
    default_channels: tuple[str, ...]
    quiet_hours: QuietHours = QuietHours()
    frequency_cap: FrequencyCap = FrequencyCap()  # type: ignore[call-arg]
    retry: Retry = Retry()  # type: ignore[call-arg]
    lease_seconds: float = Field(120, gt=0)
    limit_notices: LimitNotices = LimitNotices()  # type: ignore[call-arg]

    def category_of(self, message_type: str) -> str:
        try:
            return self.message_types[message_type].category
        except KeyError:
            known = ", ".join(sorted(self.message_types))
            raise ValueError(
                f"unknown message type {message_type!r} (notify.yaml knows: {known})"
            ) from None


def parse_hhmm(value: str) -> dt.time:
    try:
        hours, minutes = value.split(":")
        return dt.time(int(hours), int(minutes))
    except ValueError:
        raise ValueError(f"{value!r} is not a time of day like '21:00'") from None


def load_policy(templates_dir: Path = TEMPLATES_DIR) -> NotifyPolicy:
    path = templates_dir / "notify.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: the notify policy file is missing") from None
    return NotifyPolicy.model_validate(data)


@lru_cache(maxsize=4)
def default_policy() -> NotifyPolicy:
    return load_policy()
