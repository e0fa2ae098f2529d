"""One account's scored row, as ``batch.scoring.score_chunk`` gives it for the account's
one-account chunk, built from the account's rows (``store.one_account.account_rows``) with the
one-account features (``scoring.account_features``) and score (``scoring.account_score``): no
frame is planned but the few float reductions the features share with the plan. The HTTP
service decides this row with ``policy.limits.decide_limit_row`` (the review's plan on one row);
tests/batch/test_account_scoring.py holds it equal to ``score_chunk``'s on every account of a
store.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from cardpilot.policy.limits import OVERDUE_COUNTS, since_limit_change
from cardpilot.scoring.account_features import (
    DuplicateCycleError,
    account_features,
    overdue_counts,
)
from cardpilot.scoring.account_score import account_score
from cardpilot.scoring.features import FEATURE_NAMES
from cardpilot.store.one_account import AccountRows

# What score_chunk takes from the store's account row rather than from the features.
_ACCOUNT_KEYS = (
    "account_id",
    "credit_limit_minor",
    "last_review_on",
    "last_limit_change_on",
    "increase_hold_until",
    "annual_income_minor",
)
_CUSTOMER_KEYS = ("customer_id", "birth_year", "education", "annual_income_minor")
_NO_SCORE = {
    "score": None,
    "pd": None,
    "reason_codes": None,
    "positive_codes": None,
    "model_version": None,
}


def scored_account_row(rows: AccountRows, model: object, as_of: dt.date) -> dict[str, Any] | None:
    """The account's row of ``score_chunk`` as a dict (features, scores, the overdue counts
    since its last limit change); None when this way does not apply (a model other than a
    scorecard, two statements on one date): the caller scores the one-account chunk then."""
    account = rows.account
    customer = {k: account[k] for k in _CUSTOMER_KEYS}
    try:
        features = account_features(rows.statements, account, customer, as_of)
    except DuplicateCycleError:
        return None
    scores: dict[str, Any] | None = dict(_NO_SCORE)
    if features is not None:
        scores = account_score(model, features)
        if scores is None:
            return None
    row: dict[str, Any] = dict.fromkeys(FEATURE_NAMES)
    row.update(features or {})
    row.update({k: account[k] for k in _ACCOUNT_KEYS})
    row.update(scores or {})
    counts = _overdue_since_limit_change(rows, as_of)
    if counts is None:
        return None
    row.update(counts)
    return row


def _overdue_since_limit_change(rows: AccountRows, as_of: dt.date) -> dict[str, int] | None:
    """``score_chunk``'s ``overdue_since_limit_change`` for the account: its overdue counts
    on the statements after its last limit change, when a statement read is dated on or
    before that change; {} otherwise (None: two statements on one date)."""
    change = rows.account["last_limit_change_on"]
    if change is None or not any(s["cycle_date"] <= change for s in rows.statements):
        return {}
    later = [s for s in rows.statements if s["cycle_date"] > change]
    try:
        counted = overdue_counts(later, rows.account, as_of)
    except DuplicateCycleError:
        return None
    return {
        since_limit_change(n): 0 if counted is None or counted[n] is None else int(counted[n])
        for n in OVERDUE_COUNTS
    }
