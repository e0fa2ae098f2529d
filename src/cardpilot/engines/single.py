"""One account in, one decision out: the batch engines' decision (``decide_limits``' plan) on
one row, evaluated in plain Python (``policy.limits.decide_limit_row``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from cardpilot.domain.decisions import LimitDecision
from cardpilot.policy.limits import ReasonTexts, decide_limit_row
from cardpilot.policy.schema import Policy

# Decide one account from its scored features (a mapping of feature-table columns); the result
# is one row of the decision table (for JSON and comparisons).
decide_account_row = decide_limit_row


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
