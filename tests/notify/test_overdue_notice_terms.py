"""Overdue notices use the charges' own names (REGULATION.md: penalty interest, 罚息, runs on the
overdue amount; the late-payment fee, 违约金, is a separate charge) and state what is waived."""

from __future__ import annotations

import datetime as dt

import pytest

from cardpilot.notify.compose import default_composer
from cardpilot.notify.notice import LimitChangeNotice, NoticeReason


def _treatment(waived: int) -> LimitChangeNotice:
    return LimitChangeNotice(
        decision_id="overdue_treatment:7",
        account_id="A00000007",
        customer_id="C0007",
        old_limit_minor=2_000_000,
        new_limit_minor=2_000_000,
        currency="CNY",
        effective_date=dt.date(2026, 12, 1),
        reasons=(
            NoticeReason(
                "OVERDUE_FEE_WAIVER_PARTIAL",
                "按时还款后可减免部分罚息和违约金。",
                "Part of the penalty interest and late-payment fee is waived if you repay on time.",
            ),
        ),
        policy_version="overdue-test",
        message_type="overdue_treatment",
        extra={
            "risk_segment": "low_risk",
            "segment_label_zh": "低风险",
            "segment_label_en": "Low risk",
            "limit_action": "keep",
            "fee_waiver_pct": "50" if waived else "0",
            "penalty_interest_minor": 1_500,
            "late_fee_minor": 8_500,
            "fee_waived_minor": waived,
            "extension_days": 0,
            "penalty_rate_pct": "0.05",
            "days_past_due": 12,
            "tone": "gentle",
        },
    )


@pytest.mark.parametrize("channel", ["app", "email"])
def test_chinese_overdue_notice_names_penalty_interest_and_late_fee_apart_with_the_waiver(
    channel: str,
) -> None:
    body = default_composer().render(_treatment(5_000), channel, "zh-CN").body_text
    assert "本期罚息¥15.00，违约金¥85.00" in body
    assert "减免其中50%，共¥50.00" in body
    assert "逾期罚息按日利率0.05%" in body
    assert "违约金按日利率" not in body


def test_english_overdue_notice_states_the_charges_and_the_amount_waived() -> None:
    body = default_composer().render(_treatment(5_000), "email", "en").body_text
    assert "penalty interest is CN¥15.00 and the late-payment fee CN¥85.00" in body
    assert "CN¥50.00, is waived" in body


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_overdue_sms_states_the_waived_amount_within_its_length(locale: str) -> None:
    body = default_composer().render(_treatment(5_000), "sms", locale).body_text
    assert ("罚息和违约金¥50.00" if locale == "zh-CN" else "CNY 50.00 of penalty interest") in body
    assert len(body) <= (134 if locale == "zh-CN" else 459)


def test_no_waiver_no_waiver_sentence() -> None:
    body = default_composer().render(_treatment(0), "app", "zh-CN").body_text
    assert "减免" not in body.split("原因")[0]
