"""What follows each watch flag, from the policy's ``watch_actions`` (vectorised, no I/O).

One action per flag: the rule's action in the policy, stored with the flag
(``cardpilot.store.watch_actions``, which opens the case of an ``analyst_case`` action).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import polars as pl

from cardpilot.policy.schema import Policy
from cardpilot.store.watch_actions import WATCH_ACTION_COLUMNS

# How each action is stored: (action, status).
STORED_AS: dict[str, tuple[str, str]] = {
    "notice": ("notice", "queued"),
    "hold_increases": ("hold_increases", "active"),
    "analyst_case": ("analyst_case", "opening"),
    "early_review": ("early_review", "pending"),
}
# The cardholder's message of a notice action (policies/templates/watch_notice).
WATCH_NOTICE = "watch_notice"


def watch_actions_frame(flags: pl.DataFrame, policy: Policy) -> pl.DataFrame:
    """The actions of ``flags`` (watch_id, account_id, cycle_date, rule, reason_code, …), one
    per flag, as ``WATCH_ACTION_COLUMNS``; none when the policy maps no rule to an action."""
    mapping = policy.limits.watch_actions
    if mapping is None or flags.height == 0:
        return pl.DataFrame(schema=WATCH_ACTION_COLUMNS)
    kind = pl.col("rule").replace_strict(mapping.by_rule(), return_dtype=pl.String)
    stored = {k: v[0] for k, v in STORED_AS.items()}
    status = {k: v[1] for k, v in STORED_AS.items()}
    hold_until = pl.col("cycle_date").dt.offset_by(f"{mapping.hold_months}mo")
    return flags.select(
        "watch_id",
        "account_id",
        pl.col("cycle_date").alias("flag_cycle_date"),
        "rule",
        "reason_code",
        kind.replace_strict(stored, return_dtype=pl.String).alias("action"),
        kind.replace_strict(status, return_dtype=pl.String).alias("status"),
        pl.when(kind == "hold_increases").then(hold_until).otherwise(None).alias("hold_until"),
        pl.lit(policy.version).alias("policy_version"),
    ).cast(dict(WATCH_ACTION_COLUMNS))  # type: ignore[arg-type]


def notice_rows(actions: pl.DataFrame, policy: Policy) -> pl.DataFrame:
    """Stored notice actions (``NOTICE_ACTION_COLUMNS``) as the rows a notice is made of
    (``cardpilot.notify.decision_notices``): the limit unchanged, the flag's reason with its
    zh-CN and en texts from the policy."""
    texts = policy.reasons.reasons

    def text_of(code: str, locale: str) -> str:
        found = texts.get(code)
        return found.text(locale) if found is not None else code

    def lists(codes: list[str], locale: str | None) -> list[str]:
        return [json.dumps([c if locale is None else text_of(c, locale)]) for c in codes]

    codes = actions["reason_code"].to_list()
    extra: Mapping[str, Any] = {
        "reason_codes": lists(codes, None),
        "reason_texts_zh": lists(codes, "zh-CN"),
        "reason_texts_en": lists(codes, "en"),
    }
    return actions.with_columns(
        pl.col("credit_limit_minor").alias("old_limit_minor"),
        pl.col("credit_limit_minor").alias("new_limit_minor"),
        *(pl.Series(name, values, dtype=pl.String) for name, values in extra.items()),
    )
