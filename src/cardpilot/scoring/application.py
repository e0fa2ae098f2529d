"""Application-time features: what a bank knows when someone applies, before any statement.

The input is the applications frame of ``cardpilot.ingest.applications`` (one row per
application, money in integer minor units); the output one row per application with the
columns of ``APPLICATION_DICTIONARY``. Ratios divide by a positive denominator only; anything
else is missing, and a scorecard's missing bin carries its own points. Marital status (and
any other protected attribute) is never read here.
"""

from __future__ import annotations

import polars as pl

from cardpilot.scoring.feature_spec import FeatureSpec

APPLICATION_DICTIONARY: tuple[FeatureSpec, ...] = (
    FeatureSpec("application_id", "id", "", "Application identifier."),
    FeatureSpec("seniority_years", "numeric", "years", "Years with the current employer.", -1),
    FeatureSpec("home", "categorical", "", "Housing: rent, owner, parents, priv, other."),
    FeatureSpec("term_months", "numeric", "months", "Term requested."),
    FeatureSpec("age", "numeric", "years", "Age of the applicant."),
    FeatureSpec("adverse_records", "categorical", "", "Existing adverse credit records."),
    FeatureSpec("job", "categorical", "", "Employment: fixed, freelance, partime, others."),
    FeatureSpec("monthly_income_minor", "numeric", "minor units", "Monthly income.", -1),
    FeatureSpec("monthly_expenses_minor", "numeric", "minor units", "Monthly expenses."),
    FeatureSpec("assets_minor", "numeric", "minor units", "Assets declared.", -1),
    FeatureSpec("debt_minor", "numeric", "minor units", "Existing debt."),
    FeatureSpec("amount_requested_minor", "numeric", "minor units", "Amount requested."),
    FeatureSpec("purchase_price_minor", "numeric", "minor units", "Price of the purchase."),
    FeatureSpec(
        "amount_to_price", "numeric", "ratio", "Amount requested / price of the purchase.", 1
    ),
    FeatureSpec("instalment_minor", "numeric", "minor units", "Amount requested / term."),
    FeatureSpec(
        "instalment_to_income", "numeric", "ratio", "Monthly instalment / monthly income.", 1
    ),
    FeatureSpec(
        "free_income_minor",
        "numeric",
        "minor units",
        "Monthly income less expenses and the instalment.",
        -1,
    ),
    FeatureSpec("expenses_to_income", "numeric", "ratio", "Monthly expenses / income.", 1),
    FeatureSpec("debt_to_income", "numeric", "ratio", "Existing debt / monthly income.", 1),
    FeatureSpec("net_assets_minor", "numeric", "minor units", "Assets less existing debt.", -1),
    FeatureSpec("amount_to_assets", "numeric", "ratio", "Amount requested / assets.", 1),
    FeatureSpec(
        "seniority_share",
        "numeric",
        "ratio",
        "Years with the employer / years since 16 (employment stability at any age).",
        -1,
    ),
)
APPLICATION_FEATURES: tuple[str, ...] = tuple(
    s.name for s in APPLICATION_DICTIONARY if s.kind != "id"
)
# The applications frame's columns the features read; nothing protected among them.
APPLICATION_INPUTS: tuple[str, ...] = (
    "application_id",
    "seniority_years",
    "home",
    "term_months",
    "age",
    "adverse_records",
    "job",
    "monthly_income_minor",
    "monthly_expenses_minor",
    "assets_minor",
    "debt_minor",
    "amount_requested_minor",
    "purchase_price_minor",
)


def _over(num: pl.Expr, den: pl.Expr) -> pl.Expr:
    return pl.when(den > 0).then(num.cast(pl.Float64) / den.cast(pl.Float64))


def application_features(applications: pl.DataFrame) -> pl.DataFrame:
    """One row per application, in input order: the columns of ``APPLICATION_DICTIONARY``."""
    income = pl.col("monthly_income_minor")
    instalment = pl.col("amount_requested_minor") / pl.col("term_months").cast(pl.Float64)
    return (
        applications.select(APPLICATION_INPUTS)
        .with_columns(
            pl.col("adverse_records")
            .cast(pl.Boolean)
            .replace_strict({True: "yes", False: "no"}, return_dtype=pl.Utf8),
            pl.col("seniority_years", "term_months", "age").cast(pl.Float64),
            instalment.round(0).cast(pl.Int64).alias("instalment_minor"),
        )
        .with_columns(
            amount_to_price=_over(pl.col("amount_requested_minor"), pl.col("purchase_price_minor")),
            instalment_to_income=_over(pl.col("instalment_minor"), income),
            free_income_minor=income
            - pl.col("monthly_expenses_minor")
            - pl.col("instalment_minor"),
            expenses_to_income=_over(pl.col("monthly_expenses_minor"), income),
            debt_to_income=_over(pl.col("debt_minor"), income),
            net_assets_minor=pl.col("assets_minor") - pl.col("debt_minor"),
            amount_to_assets=_over(pl.col("amount_requested_minor"), pl.col("assets_minor")),
            seniority_share=pl.col("seniority_years")
            / (pl.col("age") - 16.0).clip(lower_bound=1.0),
        )
        .select(s.name for s in APPLICATION_DICTIONARY)
    )


# feature -> (reason code, zh-CN, en): why an application scored lower than it could.
APPLICATION_REASONS: dict[str, tuple[str, str, str]] = {
    "seniority_years": (
        "RC_APP_SHORT_EMPLOYMENT",
        "现单位工作年限较短",
        "Short time with the current employer",
    ),
    "home": ("RC_APP_HOUSING", "住房情况", "Housing situation"),
    "term_months": ("RC_APP_TERM", "申请期限", "Term requested"),
    "age": ("RC_APP_AGE", "申请人年龄", "Age of the applicant"),
    "adverse_records": (
        "RC_APP_ADVERSE_RECORDS",
        "存在不良信用记录",
        "Existing adverse credit records",
    ),
    "job": ("RC_APP_EMPLOYMENT_TYPE", "就业类型", "Type of employment"),
    "monthly_income_minor": ("RC_APP_INCOME", "月收入水平", "Level of monthly income"),
    "monthly_expenses_minor": ("RC_APP_EXPENSES", "月支出水平", "Level of monthly expenses"),
    "assets_minor": ("RC_APP_ASSETS", "资产水平", "Level of assets"),
    "debt_minor": ("RC_APP_DEBT", "现有负债", "Existing debt"),
    "amount_requested_minor": ("RC_APP_AMOUNT", "申请金额", "Amount requested"),
    "purchase_price_minor": ("RC_APP_PRICE", "所购商品价格", "Price of the purchase"),
    "amount_to_price": (
        "RC_APP_FINANCED_SHARE",
        "申请金额占购买价格的比例较高",
        "High share of the purchase price financed",
    ),
    "instalment_minor": ("RC_APP_INSTALMENT", "月供金额", "Monthly instalment"),
    "instalment_to_income": (
        "RC_APP_INSTALMENT_TO_INCOME",
        "月供占收入的比例较高",
        "High monthly instalment relative to income",
    ),
    "free_income_minor": (
        "RC_APP_FREE_INCOME",
        "扣除支出和月供后的可支配收入较低",
        "Low income left after expenses and the instalment",
    ),
    "expenses_to_income": (
        "RC_APP_EXPENSES_TO_INCOME",
        "支出占收入的比例较高",
        "High expenses relative to income",
    ),
    "debt_to_income": ("RC_APP_DEBT_TO_INCOME", "负债收入比较高", "High debt relative to income"),
    "net_assets_minor": ("RC_APP_NET_ASSETS", "净资产较低", "Low net assets"),
    "amount_to_assets": (
        "RC_APP_AMOUNT_TO_ASSETS",
        "申请金额相对资产较高",
        "High amount requested relative to assets",
    ),
    "seniority_share": (
        "RC_APP_EMPLOYMENT_STABILITY",
        "工作稳定性较低",
        "Low employment stability",
    ),
}
