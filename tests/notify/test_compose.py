"""Composing notices: what changed, why, and what the customer can do, per channel and locale."""

from __future__ import annotations

import datetime as dt

from cardpilot.domain.decisions import LimitAction, LimitDecision, Reason
from cardpilot.notify import compose_notice, from_limit_decision
from cardpilot.notify.compose import format_day, format_money
from cardpilot.notify.prefs import ContactPrefs

from .conftest import notice_for


def test_chinese_sms_states_the_change_its_main_reason_and_where_to_read_more() -> None:
    msg = compose_notice(notice_for(1), ContactPrefs(), "zh-CN", channel="sms")
    assert msg.locale == "zh-CN"
    assert msg.subject is None
    body = msg.body_text
    assert "¥10,000" in body
    assert "¥15,000" in body
    assert "主要原因：您的用卡和还款记录良好" in body
    assert "提额幅度受您所在信用等级" not in body  # every reason: app and e-mail
    assert "详见手机银行" in body
    assert "400-800-0000" in body
    assert "\n" not in body
    assert len(body) <= 134


def test_english_sms_stays_in_three_gsm7_parts_and_plain_ascii() -> None:
    msg = compose_notice(notice_for(1), ContactPrefs(locale="en"), channel="sms")
    assert "CNY 10,000 to CNY 15,000" in msg.body_text
    assert "Main reason: your card use and repayment record are good" in msg.body_text
    assert msg.body_text.isascii()
    assert len(msg.body_text) <= 459


def test_english_email_carries_the_same_facts_in_plain_text_and_html() -> None:
    msg = compose_notice(notice_for(1), ContactPrefs(locale="en"), channel="email")
    assert msg.locale == "en"
    assert msg.subject is not None
    assert "raised" in msg.subject
    for part in (msg.body_text, msg.body_html or ""):
        assert "CN¥10,000.00" in part
        assert "CN¥15,000.00" in part
        assert "December 1, 2026" in part
        assert "repayment record are good" in part
        assert "human review" in part
    assert msg.body_html is not None
    assert "<ol><li>" in msg.body_html


def test_html_part_escapes_reason_text() -> None:
    notice = notice_for(1)
    data = {
        "decision_id": "d",
        "account_id": notice.account_id,
        "customer_id": notice.customer_id,
        "old_limit_minor": 100,
        "new_limit_minor": 50,
        "effective_date": "2026-12-01",
        "policy_version": "p",
        "reason_codes": ["X"],
        "reason_texts_zh": ["<script>"],
        "reason_texts_en": ["<script>"],
    }
    msg = compose_notice(data, None, "en", channel="email")
    assert "<script>" not in (msg.body_html or "")
    assert "&lt;script&gt;" in (msg.body_html or "")
    assert "changing" in (msg.subject or "")


def test_amounts_and_dates_follow_the_locale() -> None:
    assert format_money(1_200_000, "CNY", "zh-CN") == "¥12,000.00"
    assert format_money(1_200_000, "CNY", "en") == "CN¥12,000.00"
    assert format_day(dt.date(2026, 3, 9), "zh-CN") == "2026年3月9日"
    assert format_day(dt.date(2026, 3, 9), "en") == "March 9, 2026"


def test_an_unknown_language_falls_back_to_chinese() -> None:
    msg = compose_notice(notice_for(1), None, "fr-FR", channel="app")
    assert msg.locale == "zh-CN"
    assert "原因" in msg.body_text


def test_the_customers_first_preferred_channel_is_the_default() -> None:
    msg = compose_notice(notice_for(1), ContactPrefs(channels=("email", "sms")), "zh-CN")
    assert msg.channel == "email"


def test_a_review_decision_becomes_a_notice_with_its_reasons() -> None:
    decision = LimitDecision(
        account_id="A00000007",
        as_of=dt.date(2026, 11, 30),
        due_for_review=True,
        grade="B",
        segment=None,
        action=LimitAction.DECREASE,
        score=600,
        pd=0.05,
        old_limit_minor=2_000_000,
        new_limit_minor=1_500_000,
        increase_pct_bp=None,
        reasons=(Reason("DECREASE_OVERDUE", "您的账户连续逾期。", "Your account was overdue."),),
        policy_version="limits-2026.11",
        model_version="m1",
    )
    notice = from_limit_decision(decision, decision_id="42", customer_id="C0007")
    assert notice.action == "decrease"
    msg = compose_notice(notice, None, "zh-CN", channel="sms")
    assert "¥20,000" in msg.body_text
    assert "¥15,000" in msg.body_text
    assert "您的账户连续逾期。" in msg.body_text
    assert "2026年11月30日" in msg.body_text
