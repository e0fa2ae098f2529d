"""One account in, one decision out: what the API calls. Same code as the batch engines."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import polars as pl

from cardpilot.domain.decisions import LimitDecision
from cardpilot.policy.limits import ReasonTexts, decide_limits
from cardpilot.policy.schema import Policy


def _one_row(features: Mapping[str, Any]) -> pl.DataFrame:
    row = {name: [value] for name, value in features.items()}
    # A one-row list column needs its element type when the list is empty or null.
    overrides = {"reason_codes": pl.List(pl.String)} if "reason_codes" in row else None
    return pl.DataFrame(row, schema_overrides=overrides)


def decide_account_row(
    features: Mapping[str, Any],
    policy: Policy,
    as_of: dt.date,
    *,
    reason_texts: ReasonTexts | None = None,
) -> dict[str, Any]:
    """Decide one account from its scored features (a dict of feature-table columns); the
    result is one row of the decision table (for JSON and comparisons)."""
    decided = decide_limits(_one_row(features), policy, as_of, reason_texts=reason_texts)
    return decided.row(0, named=True)


def decide_account(
    features: Mapping[str, Any],
    policy: Policy,
    as_of: dt.date,
    *,
    reason_texts: ReasonTexts | None = None,
) -> LimitDecision:
    """The same decision as a domain value (``LimitDecision``)."""
    row = decide_account_row(features, policy, as_of, reason_texts=reason_texts)
    return LimitDecision.from_row(row)
