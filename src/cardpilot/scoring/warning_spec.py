"""The early-warning model's own features: names, units, risk directions and reason texts.

Computed by ``cardpilot.warning.features`` from the statements; kept here, beside the
behaviour and application dictionaries, because the scorecard and the GBM read a feature's
risk direction and reason code by name.
"""

from __future__ import annotations

from cardpilot.scoring.feature_spec import FeatureSpec

WARNING_DICTIONARY: tuple[FeatureSpec, ...] = (
    FeatureSpec(
        "paid_to_minimum_latest",
        "numeric",
        "ratio",
        "Latest payment / the minimum due of the statement before, capped at 10.",
        -1,
    ),
    FeatureSpec(
        "payment_drop",
        "numeric",
        "ratio",
        "Latest payment / mean payment of the earlier cycles in the window, capped at 10.",
        -1,
    ),
    FeatureSpec(
        "balance_trend_3m",
        "numeric",
        "ratio",
        "Latest balance / mean balance of the three cycles before it.",
        1,
    ),
    FeatureSpec(
        "utilisation_jump_3m",
        "numeric",
        "ratio",
        "Latest utilisation less utilisation three cycles earlier.",
        1,
    ),
    FeatureSpec(
        "spend_spike",
        "numeric",
        "ratio",
        "Latest spending / mean spending of the earlier cycles in the window, capped at 10.",
        1,
    ),
    FeatureSpec(
        "cash_advance_share_latest",
        "numeric",
        "ratio",
        "Cash advances / all spending in the latest cycle (where the statements carry them).",
        1,
    ),
    FeatureSpec(
        "unpaid_growth_1m",
        "numeric",
        "ratio / limit",
        "Growth of the unpaid balance (balance less payment) over one cycle, per credit limit.",
        1,
    ),
)

# feature -> (reason code, zh-CN, en): why an account is on the watch list.
WARNING_REASONS: dict[str, tuple[str, str, str]] = {
    "paid_to_minimum_latest": (
        "RC_EW_PAID_BELOW_MINIMUM",
        "最近一期还款低于最低还款额",
        "Latest payment below the minimum due",
    ),
    "payment_drop": (
        "RC_EW_PAYMENT_DROP",
        "最近一期还款明显少于以往",
        "Latest payment well below the usual",
    ),
    "balance_trend_3m": (
        "RC_EW_BALANCE_RISING",
        "账单余额较前三期上升",
        "Balance rising against the three cycles before",
    ),
    "utilisation_jump_3m": (
        "RC_EW_UTILISATION_JUMP",
        "额度使用率近三期明显上升",
        "Credit use up sharply over three cycles",
    ),
    "spend_spike": (
        "RC_EW_SPEND_SPIKE",
        "最近一期消费远高于六个月平均",
        "Latest spending far above the six-month average",
    ),
    "cash_advance_share_latest": (
        "RC_EW_CASH_ADVANCE",
        "最近一期取现占比较高",
        "High share of cash advances in the latest cycle",
    ),
    "unpaid_growth_1m": (
        "RC_EW_UNPAID_GROWTH",
        "未还余额较上期增加",
        "Unpaid balance grew since the last statement",
    ),
}
