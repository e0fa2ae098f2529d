"""One account in, one decision out: what the API calls. Same code as the batch engines."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import polars as pl

from cardpilot.domain.decisions import LimitDecision
from cardpilot.policy.limits import ReasonTexts, decide_limits
from cardpilot.policy.schema import Policy


def decide_account(
    features: Mapping[str, Any],
    policy: Policy,
    as_of: dt.date,
    *,
    reason_texts: ReasonTexts | None = None,
) -> LimitDecision:
    """Decide one account from its scored features (a dict of feature-table columns)."""
    row = {name: [value] for name, value in features.items()}
    if "reason_codes" in row:
        # A one-row list column needs its element type when the list is empty.
        frame = pl.DataFrame(row, schema_overrides={"reason_codes": pl.List(pl.String)})
    else:
        frame = pl.DataFrame(row)
    decided = decide_limits(frame, policy, as_of, reason_texts=reason_texts)
    return LimitDecision.from_row(decided.row(0, named=True))


def decide_account_row(
    features: Mapping[str, Any], policy: Policy, as_of: dt.date
) -> dict[str, Any]:
    """The same decision as a plain row of the decision table (for comparisons and JSON)."""
    row = {name: [value] for name, value in features.items()}
    overrides = {"reason_codes": pl.List(pl.String)} if "reason_codes" in row else None
    frame = pl.DataFrame(row, schema_overrides=overrides)
    return decide_limits(frame, policy, as_of).row(0, named=True)
