"""The human-review policy file (``cases.yaml`` beside ``limits.yaml``): how long an analyst's
override holds against later reviews, and what the customer is told of a case's outcome.

A file of its own, versioned like the limit policy (``<declared version>+<content hash>``), so a
change of the hold period is a policy release that every case decided under it records.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationError

from cardpilot.policy.base import PolicyModel, validation_message
from cardpilot.policy.files import content_digest, read_yaml_file
from cardpilot.policy.loading import PolicyError, default_policy_path

CASES_FILE = "cases.yaml"
OUTCOMES = ("uphold", "override")


class OutcomeText(PolicyModel):
    """What the customer is told of an outcome, in each locale (plain words, no codes)."""

    zh_cn: str = Field(alias="zh-CN", min_length=1, max_length=120)
    en: str = Field(min_length=1, max_length=200)

    def text(self, locale: str) -> str:
        return self.zh_cn if locale.startswith("zh") else self.en


class CasePolicy(PolicyModel):
    """``cases.yaml``; ``version`` is the recorded ``<declared>+<content hash>``."""

    version: str = Field(min_length=1)
    # Days after an override during which later reviews leave the account's limit alone.
    override_hold_days: int = Field(ge=0, le=730)
    # The reason code an override decision carries, and the customer's text per outcome.
    override_reason_code: str = Field(pattern=r"^[A-Z][A-Z0-9_]*$", max_length=64)
    outcome_texts: dict[str, OutcomeText]

    def outcome_text(self, outcome: str) -> OutcomeText:
        return self.outcome_texts[outcome]


def load_case_policy(folder: Path | None = None) -> CasePolicy:
    """The ``cases.yaml`` of a policy folder (default: the shipped one); ``PolicyError``
    names the file and field that are wrong."""
    folder = default_policy_path() if folder is None else Path(folder)
    if folder.is_file():
        folder = folder.parent
    path = folder / CASES_FILE
    data = read_yaml_file(path, PolicyError, f"a policy folder for cases holds {CASES_FILE}")
    try:
        policy = CasePolicy.model_validate(data)
    except ValidationError as exc:
        raise PolicyError(validation_message(str(path), exc)) from exc
    missing = [o for o in OUTCOMES if o not in policy.outcome_texts]
    if missing:
        raise PolicyError(f"{path}: outcome_texts: no text for {', '.join(missing)}")
    checked = policy.model_dump(mode="json", by_alias=True)
    return policy.model_copy(update={"version": f"{policy.version}+{content_digest(checked)}"})
