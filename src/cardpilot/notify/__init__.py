"""Telling customers: compose notices from decisions, queue them in the decision's
transaction (the outbox), and deliver them over e-mail, SMS and in-app with retries."""

from cardpilot.notify.compose import Composer, RenderedMessage, compose_notice
from cardpilot.notify.dispatch import Dispatcher, DispatchReport, outbox_status
from cardpilot.notify.notice import LimitChangeNotice, NoticeReason, from_limit_decision
from cardpilot.notify.outbox import enqueue_notice, enqueue_notices, message_key
from cardpilot.notify.prefs import ContactPrefs

__all__ = [
    "Composer",
    "ContactPrefs",
    "DispatchReport",
    "Dispatcher",
    "LimitChangeNotice",
    "NoticeReason",
    "RenderedMessage",
    "compose_notice",
    "enqueue_notice",
    "enqueue_notices",
    "from_limit_decision",
    "message_key",
    "outbox_status",
]
