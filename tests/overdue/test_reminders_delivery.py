"""Reminders go through the existing dispatcher: quiet hours hold SMS and in-app messages until
08:00 in the customer's time zone while e-mail goes, and the frequency cap holds the rest;
checked end to end with the loopback SMTP server and HTTPS-style in-app gateway of the notify
tests (SQLite and PostgreSQL)."""

from __future__ import annotations

import copy
import datetime as dt
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from cardpilot.config import Settings
from cardpilot.jobs.reminders import send_reminders
from cardpilot.notify.channels.factory import channels_from_settings
from cardpilot.notify.dispatch import Dispatcher, outbox_status
from cardpilot.notify.outbox import message_key
from cardpilot.notify.settings import NotifySettings
from cardpilot.overdue.loading import overdue_policy_from_data, read_overdue_data
from cardpilot.privacy import FieldCipher, KeyRing
from cardpilot.store.db import make_engine, open_store, unit_of_work
from cardpilot.store.models import Account, Customer, Statement
from cardpilot.store.notify_models import ContactPreference, DeliveryAttempt

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "notify"))

from peers import run as peers

SECRET = "reminder-push-secret"
CYCLE = dt.date(2026, 10, 31)
DUE = dt.date(2026, 11, 20)
AS_OF = DUE - dt.timedelta(days=1)  # before_due_1
NIGHT = dt.datetime(2026, 11, 19, 14, 0, tzinfo=dt.UTC)  # 22:00 in Shanghai
MORNING = dt.datetime(2026, 11, 20, 0, 1, tzinfo=dt.UTC)  # 08:01 in Shanghai
N = 3


def _policy():  # type: ignore[no-untyped-def]
    """The shipped policy with the day-before reminder on in-app and e-mail."""
    data = copy.deepcopy(read_overdue_data())
    for rule in data["reminders"]["rules"]:
        if rule["code"] == "before_due_1":
            rule["channels"] = ["app", "email"]
    return overdue_policy_from_data(data)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", pii_keys=KeyRing.generate("rem-1").to_spec())


@pytest.fixture
def smtp_peer(tmp_path: Path) -> Iterator[peers.Peer]:
    peer = peers.smtp_peer(tmp_path / "smtp.jsonl").start()
    yield peer
    peer.stop()


@pytest.fixture
def http_peer(tmp_path: Path) -> Iterator[peers.Peer]:
    peer = peers.http_peer(tmp_path / "http.jsonl", SECRET).start()
    yield peer
    peer.stop()


def _store(url: str, cipher: FieldCipher) -> None:
    engine = open_store(url)
    with unit_of_work(engine) as s:
        for i in range(N):
            s.add(
                Customer(
                    customer_id=f"RC{i}",
                    phone_enc=cipher.encrypt(f"1380000000{i}"),
                    email_enc=cipher.encrypt(f"rc{i}@example.com"),
                    locale="en" if i == 2 else "zh-CN",
                )
            )
        s.flush()
        for i in range(N):
            s.add(Account(account_id=f"RA{i}", customer_id=f"RC{i}", credit_limit_minor=2_000_000))
        s.flush()
        for i in range(N):
            s.add(
                Statement(
                    account_id=f"RA{i}",
                    cycle_date=CYCLE,
                    due_date=DUE,
                    statement_balance_minor=300_000,
                    minimum_due_minor=30_000,
                    amount_paid_minor=0,
                    days_past_due=0,
                )
            )
    engine.dispose()


def _dispatcher(url: str, settings: Settings, smtp: peers.Peer, http: peers.Peer, clock):  # type: ignore[no-untyped-def]
    channels = channels_from_settings(
        settings,
        NotifySettings(
            smtp_url=f"smtp://127.0.0.1:{smtp.port}?from=notices@bank.example",
            push_url=f"http://127.0.0.1:{http.port}/v1/messages?connections=2",
            push_secret=SECRET,
        ),
    )
    return Dispatcher(make_engine(url), channels, FieldCipher.from_settings(settings), clock=clock)


def test_quiet_hours_hold_in_app_reminders_until_eight_while_email_goes(
    store_url: str, settings: Settings, smtp_peer: peers.Peer, http_peer: peers.Peer
) -> None:
    _store(store_url, FieldCipher.from_settings(settings))
    result = send_reminders(store_url, as_of=AS_OF, policy=_policy(), now=NIGHT)
    assert result.queued == 2 * N
    clock = {"now": NIGHT}
    dispatcher = _dispatcher(store_url, settings, smtp_peer, http_peer, lambda: clock["now"])
    night = dispatcher.run_once()
    assert (night.sent, night.held) == (N, N)
    assert night.by_channel == {"email": N}
    assert len(smtp_peer.entries()) == N
    assert http_peer.entries() == []
    clock["now"] = MORNING
    morning = dispatcher.run_once()
    dispatcher.close()
    assert morning.sent == N
    assert morning.by_channel == {"app": N}
    assert outbox_status(dispatcher.engine)["totals"] == {"sent": 2 * N}
    apps = {e["customer_id"]: e for e in http_peer.entries()}
    assert set(apps) == {f"RC{i}" for i in range(N)}
    ref = f"reminder:before_due_1:{CYCLE:%Y%m%d}:RA0"
    assert apps["RC0"]["key"] == message_key(ref, "payment_due_reminder", "app")
    assert "人民币300.00元" in apps["RC0"]["body"]
    assert "2026年11月20日" in apps["RC0"]["body"]
    assert "CNY 300.00" in apps["RC2"]["body"]  # English reader
    mails = {tuple(e["to"]): e for e in smtp_peer.entries()}
    assert "人民币3000.00元" in mails[("rc0@example.com",)]["text"]
    dispatcher.engine.dispose()


def test_the_frequency_cap_holds_a_second_reminder_the_same_day(
    store_url: str, settings: Settings, smtp_peer: peers.Peer, http_peer: peers.Peer
) -> None:
    _store(store_url, FieldCipher.from_settings(settings))
    engine = make_engine(store_url)
    with unit_of_work(engine) as s:
        s.add(ContactPreference(customer_id="RC0", max_per_day=1))
    daytime = dt.datetime(2026, 11, 19, 2, 0, tzinfo=dt.UTC)  # 10:00 in Shanghai
    send_reminders(store_url, as_of=AS_OF, policy=_policy(), now=daytime)
    dispatcher = _dispatcher(store_url, settings, smtp_peer, http_peer, lambda: daytime)
    report = dispatcher.run_once()
    dispatcher.close()
    assert (report.sent, report.held) == (2 * N - 1, 1)
    with engine.connect() as conn:
        held = conn.execute(
            select(DeliveryAttempt.detail).where(DeliveryAttempt.outcome == "held")
        ).scalar_one()
    assert held.startswith("frequency cap")
    engine.dispose()
    dispatcher.engine.dispose()
