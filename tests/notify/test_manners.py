"""Customer manners: quiet hours, opt-outs, frequency cap, preferred channels and language."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

from sqlalchemy import Engine, select

from cardpilot.notify import enqueue_notices
from cardpilot.notify.channels import Channel
from cardpilot.notify.channels.folder import FolderChannel
from cardpilot.notify.dispatch import Dispatcher, outbox_status
from cardpilot.notify.notice import LimitChangeNotice
from cardpilot.privacy import FieldCipher
from cardpilot.store.db import unit_of_work
from cardpilot.store.notify_models import ContactPreference, OutboxMessage

from .conftest import DAYTIME, add_customers, notice_for

SHANGHAI_22H = dt.datetime(2026, 11, 23, 14, 0, tzinfo=dt.UTC)  # 22:00 in Shanghai


def _folder(tmp_path: Path) -> dict[str, Channel]:
    return {name: FolderChannel(name, tmp_path / "outbox") for name in ("sms", "app", "email")}


def _tip(i: int, n: int = 0) -> LimitChangeNotice:
    """An education message (opt-out-able, frequency-capped) for customer ``i``."""
    return replace(notice_for(i), decision_id=f"tip-{i}-{n}", message_type="limit_tips")


def test_in_quiet_hours_sms_and_app_wait_until_eight_while_email_goes(
    store: Engine, cipher: FieldCipher, tmp_path: Path
) -> None:
    add_customers(store, cipher, 2)
    with unit_of_work(store) as session:
        enqueue_notices(session, [notice_for(0), notice_for(1)], now=SHANGHAI_22H)
    clock = {"now": SHANGHAI_22H}
    dispatcher = Dispatcher(store, _folder(tmp_path), cipher, clock=lambda: clock["now"])
    night = dispatcher.run_once()
    assert night.sent == 2
    assert night.by_channel == {"email": 2}
    assert night.held == 4
    with store.connect() as conn:
        waits = conn.execute(
            select(OutboxMessage.next_attempt_at, OutboxMessage.attempts).where(
                OutboxMessage.state == "waiting"
            )
        ).all()
    eight_am = dt.datetime(2026, 11, 24, 0, 0)  # 08:00 in Shanghai, stored as UTC
    assert {(w.next_attempt_at, w.attempts) for w in waits} == {(eight_am, 0)}
    clock["now"] = dt.datetime(2026, 11, 24, 0, 1, tzinfo=dt.UTC)
    morning = dispatcher.run_once()
    assert morning.sent == 4
    assert outbox_status(store)["totals"] == {"sent": 6}


def test_quiet_hours_follow_the_customers_own_time_zone(
    store: Engine, cipher: FieldCipher, tmp_path: Path
) -> None:
    add_customers(store, cipher, 1)
    with unit_of_work(store) as session:
        session.add(ContactPreference(customer_id="C0000", timezone="Europe/London"))
    with unit_of_work(store) as session:
        enqueue_notices(session, [notice_for(0)], channels=("sms",), now=SHANGHAI_22H)
    # 22:00 in Shanghai is 14:00 in London: the SMS goes.
    report = Dispatcher(store, _folder(tmp_path), cipher, clock=lambda: SHANGHAI_22H).run_once()
    assert report.sent == 1


def test_opting_out_stops_education_messages_but_never_mandatory_notices(
    store: Engine, cipher: FieldCipher
) -> None:
    add_customers(store, cipher, 1)
    with unit_of_work(store) as session:
        session.add(
            ContactPreference(customer_id="C0000", education_opt_out=True, marketing_opt_out=True)
        )
    with unit_of_work(store) as session:
        tips = enqueue_notices(session, [_tip(0)], now=DAYTIME)
        mandatory = enqueue_notices(session, [notice_for(0)], now=DAYTIME)
    assert tips == []
    assert len(mandatory) == 3


def test_the_frequency_cap_holds_optional_messages_but_not_mandatory_ones(
    store: Engine, cipher: FieldCipher, tmp_path: Path
) -> None:
    add_customers(store, cipher, 1)
    with unit_of_work(store) as session:
        session.add(ContactPreference(customer_id="C0000", max_per_day=2))
    with unit_of_work(store) as session:
        enqueue_notices(session, [_tip(0, n) for n in range(4)], now=DAYTIME)
        enqueue_notices(session, [notice_for(0)], channels=("app",), now=DAYTIME)
    clock = {"now": DAYTIME}
    dispatcher = Dispatcher(store, _folder(tmp_path), cipher, clock=lambda: clock["now"])
    first = dispatcher.run_once()
    assert first.sent == 3  # two tips and the mandatory notice
    assert first.held == 2
    clock["now"] = DAYTIME + dt.timedelta(hours=24, minutes=1)
    assert dispatcher.run_once().sent == 2


def test_preferred_channels_and_language_decide_what_is_queued(
    store: Engine, cipher: FieldCipher
) -> None:
    add_customers(store, cipher, 1, locale_of=lambda _i: "zh-CN")
    with unit_of_work(store) as session:
        session.add(ContactPreference(customer_id="C0000", channels="app", locale="en"))
    with unit_of_work(store) as session:
        enqueue_notices(session, [notice_for(0)], now=DAYTIME)
    with store.connect() as conn:
        rows = conn.execute(select(OutboxMessage.channel, OutboxMessage.locale)).all()
    assert [tuple(r) for r in rows] == [("app", "en")]
