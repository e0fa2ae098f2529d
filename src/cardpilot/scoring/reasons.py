"""Reason codes: why an account's score is lower than it could be.

Each model characteristic has one stable code; the code, not the text, is what decisions,
audit records and messages carry. Texts exist in zh-CN and en; ``reason_text`` falls back to
English for an unknown locale and raises ``KeyError`` for an unknown code (a typo must not
reach a customer).
"""

from __future__ import annotations

from types import MappingProxyType

from cardpilot.scoring.application import APPLICATION_REASONS
from cardpilot.scoring.warning_spec import WARNING_REASONS

# feature -> (code, zh-CN, en)
_REASONS: dict[str, tuple[str, str, str]] = {
    "credit_limit_minor": (
        "RC_LIMIT_LEVEL",
        "当前信用额度水平",
        "Level of the current credit limit",
    ),
    "history_months": ("RC_SHORT_HISTORY", "账单历史较短", "Short statement history"),
    "utilisation_latest": (
        "RC_HIGH_UTILISATION",
        "最近一期额度使用率较高",
        "High utilisation of the credit limit in the latest cycle",
    ),
    "utilisation_avg_6m": (
        "RC_HIGH_UTILISATION_AVG",
        "近6期平均额度使用率较高",
        "High average utilisation over the last 6 cycles",
    ),
    "utilisation_max_6m": (
        "RC_HIGH_UTILISATION_PEAK",
        "近6期额度使用率峰值较高",
        "High peak utilisation over the last 6 cycles",
    ),
    "utilisation_trend": ("RC_UTILISATION_RISING", "额度使用率上升", "Utilisation is rising"),
    "payment_ratio_latest": (
        "RC_LOW_PAYMENT_LATEST",
        "最近一期还款占账单比例较低",
        "Low share of the last bill repaid",
    ),
    "payment_ratio_avg_6m": (
        "RC_LOW_PAYMENT_RATIO",
        "近6期还款占账单比例较低",
        "Low share of bills repaid over the last 6 cycles",
    ),
    "payment_ratio_previous": (
        "RC_LOW_PAYMENT_PREVIOUS",
        "上一期还款占账单比例较低",
        "Low share of the previous bill repaid",
    ),
    "payment_ratio_min_3m": (
        "RC_LOW_PAYMENT_MIN",
        "近3期有还款比例很低的月份",
        "A cycle with a very low repayment share in the last 3",
    ),
    "revolving_months_6m": (
        "RC_REVOLVING",
        "经常未全额还款（循环信用）",
        "Balance often carried over (revolving)",
    ),
    "paid_in_full_months_6m": (
        "RC_FEW_FULL_PAYMENTS",
        "全额还款的月份较少",
        "Few cycles paid in full",
    ),
    "inactive_months_6m": ("RC_INACTIVITY", "账户使用不活跃", "Card used irregularly"),
    "repayment_status_latest": (
        "RC_REPAYMENT_STATUS",
        "最近一期还款状态",
        "Repayment status of the latest cycle",
    ),
    "repayment_status_previous": (
        "RC_REPAYMENT_STATUS_PREVIOUS",
        "上一期还款状态",
        "Repayment status of the previous cycle",
    ),
    "repayment_pattern_3m": (
        "RC_REPAYMENT_PATTERN",
        "近3期还款状态变化",
        "Repayment status over the last 3 cycles",
    ),
    "status_paid_in_full_months_6m": (
        "RC_FEW_FULL_PAYMENTS_ISSUER",
        "发卡机构记录的全额还款月份较少",
        "Few cycles the issuer recorded as paid in full",
    ),
    "status_no_use_months_6m": ("RC_NO_USE", "无消费的月份", "Cycles without card use"),
    "missed_payment_months_6m": (
        "RC_MISSED_PAYMENTS",
        "有账单未还款的月份",
        "Cycles with a bill and no payment",
    ),
    "months_overdue_latest": (
        "RC_OVERDUE_RECENT",
        "最近一期存在逾期",
        "Overdue in the latest cycle",
    ),
    "months_overdue_previous": (
        "RC_OVERDUE_PREVIOUS",
        "上一期存在逾期",
        "Overdue in the previous cycle",
    ),
    "max_months_overdue_3m": (
        "RC_OVERDUE_DEPTH_3M",
        "近3期最长逾期月数",
        "Longest delay in the last 3 cycles",
    ),
    "max_months_overdue_6m": (
        "RC_OVERDUE_DEPTH_6M",
        "近6期最长逾期月数",
        "Longest delay in the last 6 cycles",
    ),
    "overdue_count_3m": (
        "RC_OVERDUE_FREQUENT_3M",
        "近3期逾期次数",
        "Number of overdue cycles in the last 3",
    ),
    "overdue_count_6m": (
        "RC_OVERDUE_FREQUENT_6M",
        "近6期逾期次数",
        "Number of overdue cycles in the last 6",
    ),
    "consecutive_overdue_months": (
        "RC_OVERDUE_CONSECUTIVE",
        "连续逾期月数",
        "Consecutive overdue cycles",
    ),
    "months_since_last_overdue": (
        "RC_OVERDUE_RECENCY",
        "距上次逾期时间较短",
        "Recent overdue payment",
    ),
    "bill_growth": ("RC_BILL_GROWTH", "账单金额增长", "Growth of the statement balance"),
    "payment_volatility": ("RC_PAYMENT_IRREGULAR", "还款金额波动较大", "Irregular payment amounts"),
    "payment_to_limit_latest": (
        "RC_LOW_PAYMENT_AMOUNT",
        "最近一期还款金额相对额度较低",
        "Low last payment relative to the limit",
    ),
    "payment_to_limit_avg_6m": (
        "RC_LOW_PAYMENT_AMOUNT_AVG",
        "近6期平均还款金额相对额度较低",
        "Low average payment relative to the limit",
    ),
    "paid_latest_minor": (
        "RC_LOW_PAYMENT_LAST_AMOUNT",
        "最近一期还款金额较低",
        "Low last payment amount",
    ),
    "paid_avg_6m_minor": (
        "RC_LOW_PAYMENT_AVG_AMOUNT",
        "近6期平均还款金额较低",
        "Low average payment amount",
    ),
    "balance_latest_minor": (
        "RC_BALANCE_LEVEL",
        "最近一期账单余额水平",
        "Level of the latest statement balance",
    ),
    "available_credit_minor": (
        "RC_LOW_AVAILABLE_CREDIT",
        "可用额度较低",
        "Little available credit",
    ),
    "spend_avg_6m_minor": ("RC_SPENDING_LEVEL", "消费水平", "Spending level"),
    "spend_to_limit_avg_6m": (
        "RC_SPENDING_TO_LIMIT",
        "消费相对额度的水平",
        "Spending relative to the limit",
    ),
    "cash_advance_share": ("RC_CASH_ADVANCE", "取现占比较高", "High share of cash advances"),
    "months_on_book": ("RC_SHORT_TENURE", "开户时间较短", "Account opened recently"),
    "age": ("RC_AGE_PROFILE", "年龄段的历史风险", "Observed risk of the age band"),
    "education": (
        "RC_EDUCATION_PROFILE",
        "学历段的历史风险",
        "Observed risk of the education band",
    ),
    "annual_income_minor": ("RC_INCOME_LEVEL", "收入水平", "Income level"),
    "overdue_months_total_6m": (
        "RC_OVERDUE_TOTAL_6M",
        "近6期累计逾期月数较多",
        "Many months overdue in total over the last 6 cycles",
    ),
    "payment_ratio_min_6m": (
        "RC_LOW_PAYMENT_MIN_6M",
        "近6期最低还款比例较低",
        "Low lowest share of a bill repaid over the last 6 cycles",
    ),
    "status_revolving_months_6m": (
        "RC_REVOLVING_ISSUER",
        "发卡机构记录的循环信用期数较多",
        "Many cycles marked revolving by the issuer",
    ),
    "unpaid_to_limit_latest": (
        "RC_UNPAID_BALANCE",
        "最近一期未还清的上期账单相对额度较高",
        "High unpaid part of the previous bill relative to the limit",
    ),
    "utilisation_previous": (
        "RC_HIGH_UTILISATION_PREVIOUS",
        "上一期额度使用率较高",
        "High utilisation of the credit limit in the previous cycle",
    ),
    "utilisation_change_1m": (
        "RC_UTILISATION_JUMP",
        "最近一期额度使用率变化",
        "Change of utilisation in the latest cycle",
    ),
    # Conditional scorecard characteristics (scorecard.CONDITIONAL): a feature read within a
    # segment of the latest repayment status, where its risk can run the other way.
    "utilisation_latest_if_clear": (
        "RC_UTILISATION_WHEN_CLEAR",
        "最近一期额度使用率（全额还款或未使用的账户）",
        "Latest utilisation, for an account that paid in full or did not use the card",
    ),
    "utilisation_latest_if_revolving": (
        "RC_UTILISATION_WHEN_REVOLVING",
        "最近一期额度使用率（循环信用或逾期一个月的账户）",
        "Latest utilisation, for an account revolving or one month late",
    ),
    "utilisation_avg_if_clear": (
        "RC_UTILISATION_AVG_WHEN_CLEAR",
        "近6期平均额度使用率（全额还款或未使用的账户）",
        "Average utilisation over 6 cycles, for an account that paid in full or did not use "
        "the card",
    ),
    "utilisation_avg_if_revolving": (
        "RC_UTILISATION_AVG_WHEN_REVOLVING",
        "近6期平均额度使用率（循环信用或逾期一个月的账户）",
        "Average utilisation over 6 cycles, for an account revolving or one month late",
    ),
    "balance_latest_if_clear": (
        "RC_BALANCE_WHEN_CLEAR",
        "最近一期账单金额（全额还款或未使用的账户）",
        "Latest statement balance, for an account that paid in full or did not use the card",
    ),
    "payment_ratio_latest_if_clear": (
        "RC_PAYMENT_WHEN_CLEAR",
        "最近一期还款占账单比例（全额还款或未使用的账户）",
        "Share of the last bill repaid, for an account that paid in full or did not use the card",
    ),
    "paid_avg_if_clear": (
        "RC_PAID_AVG_WHEN_CLEAR",
        "近6期平均还款金额（全额还款或未使用的账户）",
        "Average payment over 6 cycles, for an account that paid in full or did not use the card",
    ),
    "paid_avg_if_revolving": (
        "RC_PAID_AVG_WHEN_REVOLVING",
        "近6期平均还款金额（循环信用或逾期一个月的账户）",
        "Average payment over 6 cycles, for an account revolving or one month late",
    ),
    "payment_to_limit_avg_if_clear": (
        "RC_PAYMENT_TO_LIMIT_WHEN_CLEAR",
        "近6期平均还款占额度比例（全额还款或未使用的账户）",
        "Average payment relative to the limit, for an account that paid in full or did not use "
        "the card",
    ),
    "credit_limit_if_not_late": (
        "RC_LIMIT_WHEN_NOT_LATE",
        "信用额度水平（未逾期两个月以上的账户）",
        "Level of the credit limit, for an account not two or more months late",
    ),
    "payment_to_limit_latest_if_clear": (
        "RC_PAYMENT_TO_LIMIT_LATEST_WHEN_CLEAR",
        "最近一期还款占额度比例（全额还款或未使用的账户）",
        "Latest payment relative to the limit, for an account that paid in full or did not use "
        "the card",
    ),
    "payment_to_limit_latest_if_revolving": (
        "RC_PAYMENT_TO_LIMIT_LATEST_WHEN_REVOLVING",
        "最近一期还款占额度比例（循环信用或逾期一个月的账户）",
        "Latest payment relative to the limit, for an account revolving or one month late",
    ),
    "inactive_months_if_clear": (
        "RC_INACTIVITY_WHEN_CLEAR",
        "未使用的月份数（全额还款或未使用的账户）",
        "Cycles the card was not used, for an account that paid in full or did not use the card",
    ),
    "balance_latest_if_revolving": (
        "RC_BALANCE_WHEN_REVOLVING",
        "最近一期账单金额（循环信用或逾期一个月的账户）",
        "Latest statement balance, for an account revolving or one month late",
    ),
    "balance_latest_if_one_late": (
        "RC_BALANCE_WHEN_ONE_LATE",
        "最近一期账单金额（逾期一个月的账户）",
        "Latest statement balance, for an account one month late",
    ),
    "spend_to_limit_avg_if_clear": (
        "RC_SPEND_WHEN_CLEAR",
        "近6期平均消费占额度比例（全额还款或未使用的账户）",
        "Average new spending relative to the limit, for an account that paid in full or did not "
        "use the card",
    ),
    "utilisation_max_if_clear": (
        "RC_UTILISATION_PEAK_WHEN_CLEAR",
        "近6期额度使用率峰值（全额还款或未使用的账户）",
        "Peak utilisation over 6 cycles, for an account that paid in full or did not use the card",
    ),
    "paid_in_full_months_if_revolving": (
        "RC_FULL_PAYMENTS_WHEN_REVOLVING",
        "全额还款的月份数（循环信用或逾期一个月的账户）",
        "Cycles paid in full, for an account revolving or one month late",
    ),
}

_REASONS.update(APPLICATION_REASONS)
_REASONS.update(WARNING_REASONS)

REASON_BY_FEATURE: MappingProxyType[str, str] = MappingProxyType(
    {feature: code for feature, (code, _, _) in _REASONS.items()}
)
_TEXTS: dict[str, dict[str, str]] = {
    code: {"zh-CN": zh, "en": en} for code, zh, en in _REASONS.values()
}
LOCALES = ("zh-CN", "en")


def reason_code(feature: str) -> str:
    """The stable reason code of a model characteristic."""
    try:
        return REASON_BY_FEATURE[feature]
    except KeyError:
        raise KeyError(
            f"no reason code for feature {feature!r}; add it to scoring/reasons.py"
        ) from None


def reason_text(code: str, locale: str = "zh-CN") -> str:
    """Plain-language text of a reason code; English when the locale has none."""
    texts = _TEXTS.get(code)
    if texts is None:
        raise KeyError(f"unknown reason code {code!r}")
    lang = locale if locale in texts else ("zh-CN" if locale.lower().startswith("zh") else "en")
    return texts[lang]


def all_reason_codes() -> list[str]:
    return sorted(_TEXTS)
