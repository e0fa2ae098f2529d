"""The feature dictionary: every column of the behaviour feature table, with its kind, unit,
meaning and, where the domain demands it, its direction of risk (docs/features.md).

``cardpilot.scoring.features`` computes the columns; this module says what they are.
"""

from __future__ import annotations

from cardpilot.scoring.application import APPLICATION_DICTIONARY
from cardpilot.scoring.feature_spec import FeatureSpec
from cardpilot.scoring.warning_spec import WARNING_DICTIONARY

FEATURE_DICTIONARY: tuple[FeatureSpec, ...] = (
    FeatureSpec("account_id", "id", "", "Account identifier."),
    FeatureSpec(
        "credit_limit_minor", "numeric", "minor units", "Current credit limit of the account."
    ),
    FeatureSpec(
        "history_months", "numeric", "cycles", "Statement cycles in the window (at most 6)."
    ),
    FeatureSpec(
        "utilisation_latest", "numeric", "ratio", "Latest statement balance / credit limit."
    ),
    FeatureSpec("utilisation_avg_6m", "numeric", "ratio", "Mean utilisation over the window."),
    FeatureSpec("utilisation_max_6m", "numeric", "ratio", "Highest utilisation in the window."),
    FeatureSpec(
        "utilisation_trend",
        "numeric",
        "ratio / month",
        "Least-squares slope of utilisation per cycle (positive: rising).",
    ),
    FeatureSpec(
        "payment_ratio_latest",
        "numeric",
        "ratio",
        "Latest payment / previous statement balance, capped at 2; null when nothing was owed.",
        -1,
    ),
    FeatureSpec(
        "payment_ratio_avg_6m",
        "numeric",
        "ratio",
        "Mean of the payment ratios in the window (cycles that owed something).",
        -1,
    ),
    FeatureSpec(
        "payment_ratio_previous",
        "numeric",
        "ratio",
        "Payment ratio of the cycle before the latest.",
        -1,
    ),
    FeatureSpec(
        "payment_ratio_min_3m",
        "numeric",
        "ratio",
        "Lowest payment ratio among the latest 3 cycles.",
        -1,
    ),
    FeatureSpec(
        "revolving_months_6m",
        "numeric",
        "cycles",
        "Cycles that paid less than the previous balance owed (balance carried over).",
    ),
    FeatureSpec(
        "paid_in_full_months_6m",
        "numeric",
        "cycles",
        "Cycles that paid at least the previous balance owed.",
    ),
    FeatureSpec(
        "inactive_months_6m",
        "numeric",
        "cycles",
        "Cycles with no balance owed and no payment (card not used).",
    ),
    FeatureSpec(
        "repayment_status_latest",
        "numeric",
        "issuer code",
        "Issuer's repayment status of the latest cycle (-2 no use, -1 paid in full, "
        "0 revolving, 1..9 months late); null when the issuer gives none.",
    ),
    FeatureSpec(
        "repayment_status_previous",
        "numeric",
        "issuer code",
        "Issuer's repayment status of the cycle before the latest; null when none.",
    ),
    FeatureSpec(
        "repayment_pattern_3m",
        "categorical",
        "issuer codes",
        "Issuer's repayment status of the latest 3 cycles, latest first, each capped to -2..3 "
        "(e.g. '2|2|0'); null when the issuer gives none. Lets the scorecard see how "
        "delinquency moved, not just its level.",
    ),
    FeatureSpec(
        "status_paid_in_full_months_6m",
        "numeric",
        "cycles",
        "Cycles the issuer marked paid in full (repayment status -1).",
    ),
    FeatureSpec(
        "status_no_use_months_6m",
        "numeric",
        "cycles",
        "Cycles the issuer marked as no consumption (repayment status -2).",
    ),
    FeatureSpec(
        "missed_payment_months_6m",
        "numeric",
        "cycles",
        "Cycles with a positive previous balance and no payment at all.",
        +1,
    ),
    FeatureSpec(
        "months_overdue_latest", "numeric", "months", "Months overdue in the latest cycle.", +1
    ),
    FeatureSpec(
        "months_overdue_previous",
        "numeric",
        "months",
        "Months overdue in the cycle before the latest.",
        +1,
    ),
    FeatureSpec(
        "max_months_overdue_3m", "numeric", "months", "Most months overdue, latest 3 cycles.", +1
    ),
    FeatureSpec(
        "max_months_overdue_6m", "numeric", "months", "Most months overdue in the window.", +1
    ),
    FeatureSpec("overdue_count_3m", "numeric", "cycles", "Overdue cycles among the latest 3.", +1),
    FeatureSpec("overdue_count_6m", "numeric", "cycles", "Overdue cycles in the window.", +1),
    FeatureSpec(
        "consecutive_overdue_months",
        "numeric",
        "cycles",
        "Number of most recent consecutive cycles with an overdue payment (0 if the latest "
        "cycle is not overdue).",
        +1,
    ),
    FeatureSpec(
        "months_since_last_overdue",
        "numeric",
        "cycles",
        "Cycles since the latest overdue one (0: the latest cycle is overdue); null when none "
        "in the window.",
    ),
    FeatureSpec(
        "bill_growth",
        "numeric",
        "ratio",
        "(Latest balance − oldest balance in the window) / credit limit.",
    ),
    FeatureSpec(
        "payment_volatility",
        "numeric",
        "ratio",
        "Coefficient of variation (std / mean) of the payments in the window; null when "
        "nothing was paid.",
    ),
    FeatureSpec(
        "payment_to_limit_latest",
        "numeric",
        "ratio",
        "Latest payment / credit limit.",
        -1,
    ),
    FeatureSpec(
        "payment_to_limit_avg_6m",
        "numeric",
        "ratio",
        "Mean payment in the window / credit limit.",
        -1,
    ),
    FeatureSpec("paid_latest_minor", "numeric", "minor units", "Latest payment."),
    FeatureSpec(
        "paid_avg_6m_minor", "numeric", "minor units", "Mean payment per cycle in the window."
    ),
    FeatureSpec("balance_latest_minor", "numeric", "minor units", "Latest statement balance."),
    FeatureSpec(
        "available_credit_minor",
        "numeric",
        "minor units",
        "Credit limit − latest statement balance (negative when over the limit).",
    ),
    FeatureSpec(
        "spend_avg_6m_minor",
        "numeric",
        "minor units",
        "Mean new spending per cycle: purchases + cash advances when the issuer reports them, "
        "else max(0, balance − previous balance + payment).",
    ),
    FeatureSpec("spend_to_limit_avg_6m", "numeric", "ratio", "spend_avg_6m_minor / credit limit."),
    FeatureSpec(
        "cash_advance_share",
        "numeric",
        "ratio",
        "Cash advances / (purchases + cash advances) in the window; null when not reported.",
    ),
    FeatureSpec(
        "months_on_book",
        "numeric",
        "months",
        "Whole months from the account's open date to as-of; null when unknown.",
    ),
    FeatureSpec("age", "numeric", "years", "as_of year − birth year; null when unknown."),
    FeatureSpec("education", "categorical", "", "Education level as recorded by the issuer."),
    FeatureSpec(
        "annual_income_minor", "numeric", "minor units", "Declared annual income; null if unknown."
    ),
)

# Per-cycle behaviour extras, chosen by cross-validation on the training rows
# (bench/select_models.py, docs/scoring.md "How the model was chosen"). Computed in the same
# plan as the rest by ``_extra_aggregations`` in ``scoring/features.py``; keep the two in step.
EXTRA_FEATURES: tuple[FeatureSpec, ...] = (
    FeatureSpec(
        "overdue_months_total_6m",
        "numeric",
        "months",
        "Sum of the months overdue of every cycle in the window (depth and duration together).",
        +1,
    ),
    FeatureSpec(
        "payment_ratio_min_6m",
        "numeric",
        "ratio",
        "Lowest payment ratio in the window (cycles that owed something).",
        -1,
    ),
    FeatureSpec(
        "status_revolving_months_6m",
        "numeric",
        "cycles",
        "Cycles the issuer marked revolving (repayment status 0: minimum paid, balance carried).",
    ),
    FeatureSpec(
        "unpaid_to_limit_latest",
        "numeric",
        "ratio",
        "Part of the previous balance the latest payment left unpaid / credit limit.",
    ),
    FeatureSpec(
        "utilisation_previous",
        "numeric",
        "ratio",
        "Utilisation of the cycle before the latest.",
    ),
    FeatureSpec(
        "utilisation_change_1m",
        "numeric",
        "ratio",
        "Latest utilisation − utilisation of the cycle before (positive: rising).",
    ),
)
FEATURE_DICTIONARY = FEATURE_DICTIONARY + EXTRA_FEATURES


FEATURE_NAMES: tuple[str, ...] = tuple(s.name for s in FEATURE_DICTIONARY)
MODEL_FEATURES: tuple[str, ...] = tuple(s.name for s in FEATURE_DICTIONARY if s.kind != "id")
# Both dictionaries: the model families bin and constrain any feature by these.
CATEGORICAL_FEATURES: frozenset[str] = frozenset(
    s.name
    for s in (*FEATURE_DICTIONARY, *APPLICATION_DICTIONARY, *WARNING_DICTIONARY)
    if s.kind == "categorical"
)
# Customer columns the feature plan may read; anything else (sex, marital status, ...) is


def feature_spec(name: str) -> FeatureSpec:
    """The dictionary entry of feature ``name``."""
    for spec in (*FEATURE_DICTIONARY, *APPLICATION_DICTIONARY, *WARNING_DICTIONARY):
        if spec.name == name:
            return spec
    raise KeyError(f"unknown feature {name!r}; see cardpilot.scoring.feature_dictionary")
