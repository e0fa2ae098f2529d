"""The customer's words for score reasons: every feature has a statement in both directions and
both languages, with the account's figure where it helps and no model vocabulary."""

from __future__ import annotations

import re

import pytest

from cardpilot.notify.reasons import (
    LOCALES,
    load_statements,
    statement,
    statement_codes,
)
from cardpilot.scoring.application import APPLICATION_REASONS
from cardpilot.scoring.directions import adverse_code, positive_code
from cardpilot.scoring.reasons import REASON_BY_FEATURE
from cardpilot.scoring.scorecard import CONDITIONAL
from cardpilot.scoring.warning_spec import WARNING_REASONS

# Words that belong to the analyst's report, not to a customer's notice.
MODEL_VOCABULARY = re.compile(
    r"[a-z]+_[a-z_0-9]+|\{|\}|RC_|PF_|全额还款或未使用的账户|循环信用或逾期一个月的账户"
)


def test_every_behaviour_and_application_feature_has_both_directions_in_both_languages() -> None:
    # Early-warning features explain interventions, which have no customer wording yet.
    plain = set(REASON_BY_FEATURE) - set(CONDITIONAL) - set(WARNING_REASONS)
    assert set(APPLICATION_REASONS) <= plain
    assert plain <= set(load_statements().features) <= set(REASON_BY_FEATURE)


@pytest.mark.parametrize("locale", LOCALES)
def test_application_reasons_reach_the_applicant_as_statements_not_feature_labels(
    locale: str,
) -> None:
    for feature, (code, zh, en) in APPLICATION_REASONS.items():
        for direction_code in (adverse_code(feature), positive_code(feature)):
            text = statement(direction_code, locale)
            assert text, direction_code
            assert not MODEL_VOCABULARY.search(text), (direction_code, text)
            # A plain statement with its direction, not the analyst's label.
            assert text not in (zh, en), (direction_code, text)
            words = ("不利", "lowered") if direction_code == code else ("有利", "helped")
            assert any(w in text for w in words), (direction_code, text)
    assert statement("RC_APP_INSTALMENT_TO_INCOME", "zh-CN", 0.42) == (
        "每月还款额占月收入的比例较高（42%），对评分不利"
    )
    assert statement("RC_APP_INSTALMENT_TO_INCOME", "en") == (
        "The monthly repayment is a large share of your income, which lowered your score"
    )


@pytest.mark.parametrize("locale", LOCALES)
def test_statements_never_show_model_vocabulary_with_or_without_a_figure(locale: str) -> None:
    for code in statement_codes():
        for value in (None, 0.87, 2.0, 123_400.0):
            text = statement(code, locale, value, currency="CNY")
            assert not MODEL_VOCABULARY.search(text), (code, text)


def test_figures_read_as_the_customer_expects() -> None:
    assert statement("RC_OVERDUE_FREQUENT_6M", "zh-CN", 2) == "近6个月中有2个月未按时还款"
    assert statement("RC_OVERDUE_FREQUENT_6M", "zh-CN") == "近6个月有未按时还款的月份"
    assert statement("RC_HIGH_UTILISATION_AVG", "zh-CN", 0.87).endswith("（平均87%）")
    assert statement("RC_HIGH_UTILISATION_AVG", "en", 0.87) == (
        "Your average use of your credit limit over the last 6 months (87%) lowered your score"
    )
    assert statement("RC_LOW_AVAILABLE_CREDIT", "zh-CN", 120_000, currency="CNY") == (
        "可用额度对评分不利（可用¥1,200.00）"
    )


def test_an_unknown_code_fails_rather_than_reach_a_customer() -> None:
    with pytest.raises(KeyError):
        statement("RC_PAID_AVG_WHEN_CLEAR", "zh-CN")


def test_a_zero_count_is_left_out_rather_than_shown() -> None:
    assert statement("PF_OVERDUE_MONTHS_TOTAL_6M", "zh-CN", 0) == "近6个月累计逾期较少"
    assert statement("PF_OVERDUE_MONTHS_TOTAL_6M", "zh-CN", 1) == "近6个月累计逾期较少（累计1个月）"
