"""Delivery to real servers on loopback: an SMTP server (aiosmtpd), an SMSC (the npm `smpp`
package, an independent implementation) and an HTTP gateway. Each peer records what it
accepted, once per idempotency key, and marks any repeat as a duplicate."""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from threading import Thread

import pytest
from sqlalchemy import Engine

from cardpilot.config import Settings
from cardpilot.notify import enqueue_notices
from cardpilot.notify.channels import Channel
from cardpilot.notify.channels.factory import channels_from_settings
from cardpilot.notify.channels.smpp import SmppChannel
from cardpilot.notify.channels.smtp import SmtpChannel
from cardpilot.notify.dispatch import Dispatcher, outbox_status
from cardpilot.notify.settings import NotifySettings
from cardpilot.privacy import FieldCipher
from cardpilot.store.db import make_engine, unit_of_work, upgrade

from .conftest import (
    DAYTIME,
    SECRET,
    add_customers,
    email_of,
    name_of,
    national_id_of,
    notice_for,
    phone_of,
)
from .peers import run as peers


def _channels(
    settings: Settings, smtp: peers.Peer, smpp: peers.Peer, http: peers.Peer
) -> dict[str, Channel]:
    return channels_from_settings(
        settings,
        NotifySettings(
            smtp_url=f"smtp://127.0.0.1:{smtp.port}?from=notices@bank.example",
            smpp_url=f"smpp://cardpilot:pw@127.0.0.1:{smpp.port}?source=95588&window=16",
            push_url=f"http://127.0.0.1:{http.port}/v1/messages?connections=4",
            push_secret=SECRET,
        ),
    )


def _wait_for(predicate: object, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)


def test_every_queued_notice_arrives_once_in_its_language_with_its_reasons(
    store: Engine,
    cipher: FieldCipher,
    settings: Settings,
    smtp_peer: peers.Peer,
    smpp_peer: peers.Peer,
    http_peer: peers.Peer,
) -> None:
    n = 12
    add_customers(store, cipher, n)
    with unit_of_work(store) as session:
        keys = enqueue_notices(session, [notice_for(i) for i in range(n)], now=DAYTIME)
    dispatcher = Dispatcher(
        store,
        _channels(settings, smtp_peer, smpp_peer, http_peer),
        cipher,
        batch_size=5,
        clock=lambda: DAYTIME,
    )
    report = dispatcher.run_once()
    dispatcher.close()
    assert report.sent == 3 * n
    assert report.by_channel == {"sms": n, "app": n, "email": n}
    _wait_for(lambda: len(smpp_peer.entries()) == n)

    got = {
        "email": smtp_peer.entries(),
        "sms": smpp_peer.entries(),
        "app": http_peer.entries(),
    }
    for channel, entries in got.items():
        assert len(entries) == n, channel
        assert not [e for e in entries if e["duplicate"]], channel
    assert sorted(e["key"] for es in got.values() for e in es) == sorted(keys)

    for i in range(n):
        english = i % 3 == 2
        reason = "repayment record are good" if english else "您的用卡和还款记录良好"
        email = next(e for e in got["email"] if e["to"] == [email_of(i)])
        sms = next(e for e in got["sms"] if e["to"] == phone_of(i))
        app = next(e for e in got["app"] if e["customer_id"] == f"C{i:04d}")
        assert email["language"] == ("en" if english else "zh-CN")
        for text in (email["text"], email["html"], app["body"]):
            assert reason in text
            assert ("CN¥15,000.00" if english else "¥15,000.00") in text
        # An SMS states whole amounts, in ISO code in English (GSM-7 characters only).
        assert reason in sms["text"]
        assert ("CNY 15,000" if english else "¥15,000") in sms["text"]
    assert outbox_status(store)["totals"] == {"sent": 3 * n}


def test_a_chinese_sms_arrives_as_at_most_two_correctly_joined_ucs2_parts(
    store: Engine, cipher: FieldCipher, smpp_peer: peers.Peer
) -> None:
    add_customers(store, cipher, 1, locale_of=lambda _i: "zh-CN")
    with unit_of_work(store) as session:
        enqueue_notices(session, [notice_for(0)], channels=("sms",), now=DAYTIME)
        from sqlalchemy import select

        from cardpilot.store.notify_models import OutboxMessage

        body = session.scalar(select(OutboxMessage.body_text))
    assert body is not None
    assert 70 < len(body) <= 134  # two concatenated UCS-2 parts at most (notify.yaml)
    smsc = SmppChannel.from_url(f"smpp://cp:pw@127.0.0.1:{smpp_peer.port}")
    dispatcher = Dispatcher(store, {"sms": smsc}, cipher, clock=lambda: DAYTIME)
    assert dispatcher.run_once().sent == 1
    dispatcher.close()
    _wait_for(lambda: smpp_peer.entries())
    [entry] = smpp_peer.entries()
    assert entry["parts"] == -(-len(body) // 67) == 2
    assert entry["data_coding"] == 8
    assert entry["text"] == body


def test_with_the_smtp_server_down_messages_wait_then_all_go(
    store: Engine, cipher: FieldCipher, tmp_path: Path
) -> None:
    n = 20
    add_customers(store, cipher, n)
    with unit_of_work(store) as session:
        enqueue_notices(
            session, [notice_for(i) for i in range(n)], channels=("email",), now=DAYTIME
        )
    port = peers.free_port()
    smtp = SmtpChannel.from_url(f"smtp://127.0.0.1:{port}?timeout=2")
    clock = {"now": DAYTIME}
    dispatcher = Dispatcher(store, {"email": smtp}, cipher, clock=lambda: clock["now"])
    first = dispatcher.run_once()
    assert first.sent == 0
    assert first.retried == n
    assert outbox_status(store)["totals"] == {"queued": n}

    server = peers.smtp_peer(tmp_path / "late.jsonl", port).start()
    try:
        assert dispatcher.run_once().claimed == 0  # still backing off
        clock["now"] = DAYTIME + dt.timedelta(minutes=5)
        second = dispatcher.run_once()
        dispatcher.close()
        assert second.sent == n
        accepted = server.entries()
    finally:
        server.stop()
    assert sorted(e["to"][0] for e in accepted) == sorted(email_of(i) for i in range(n))
    assert not [e for e in accepted if e["duplicate"]]
    assert outbox_status(store)["totals"] == {"sent": n}


def test_a_dispatcher_killed_mid_batch_and_restarted_delivers_each_message_exactly_once(
    tmp_path: Path, settings: Settings, cipher: FieldCipher
) -> None:
    n = 60
    url = f"sqlite:///{tmp_path / 'kill.db'}"
    upgrade(url)
    engine = make_engine(url)
    add_customers(engine, cipher, n)
    with unit_of_work(engine) as session:
        enqueue_notices(
            session,
            [notice_for(i) for i in range(n)],
            channels=("email",),
            now=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1),
        )
    slow = peers.smtp_peer(tmp_path / "kill.jsonl", None, "--delay", "0.05").start()
    env = dict(
        os.environ,
        CARDPILOT_HOME=str(settings.home),
        CARDPILOT_PII_KEYS=settings.pii_keys or "",
        CARDPILOT_SMTP_URL=f"smtp://127.0.0.1:{slow.port}?connections=1",
        CARDPILOT_DATABASE_URL=url,
    )
    proc = [sys.executable, str(Path(peers.__file__).parent / "dispatcher_proc.py")]
    try:
        worker = subprocess.Popen(
            [*proc, "worker", "40", "1"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_for(lambda: len(slow.entries()) >= 10, timeout=60)
        os.kill(worker.pid, signal.SIGKILL)  # mid-batch: 40 claimed, some accepted and recorded
        worker.wait()
        delivered_before = len(slow.entries())
        assert 0 < delivered_before < n
        status = outbox_status(engine)["totals"]
        assert status.get("sending", 0) > 0  # claimed by the dead dispatcher
        time.sleep(1.2)  # its lease runs out
        done = subprocess.run(
            [*proc, "once", "500", "120"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        entries = slow.entries()
    finally:
        slow.stop()
        engine_status = outbox_status(engine)
        engine.dispose()
    accepted = [e for e in entries if not e["duplicate"]]
    assert sorted(e["to"][0] for e in accepted) == sorted(email_of(i) for i in range(n))
    assert engine_status["totals"] == {"sent": n}


@pytest.mark.parametrize("dispatchers", [2])
def test_dispatchers_in_parallel_never_claim_the_same_message(
    store_url: str,
    settings: Settings,
    cipher: FieldCipher,
    http_peer: peers.Peer,
    dispatchers: int,
) -> None:
    from cardpilot.notify.channels.push import PushChannel

    upgrade(store_url)
    engine = make_engine(store_url)
    n = 120
    add_customers(engine, cipher, n)
    with unit_of_work(engine) as session:
        enqueue_notices(session, [notice_for(i) for i in range(n)], channels=("app",), now=DAYTIME)
    workers = [
        Dispatcher(
            engine,
            {"app": PushChannel.from_url(f"http://127.0.0.1:{http_peer.port}/m", SECRET)},
            cipher,
            batch_size=7,
            clock=lambda: DAYTIME,
        )
        for _ in range(dispatchers)
    ]
    threads = [Thread(target=w.run_once) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for w in workers:
        w.close()
    entries = http_peer.entries()
    engine.dispose()
    assert len(entries) == n
    assert not [e for e in entries if e["duplicate"]]


def test_no_personal_data_reaches_the_logs(
    store: Engine,
    cipher: FieldCipher,
    settings: Settings,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    smpp_peer: peers.Peer,
) -> None:
    n = 6
    add_customers(store, cipher, n)
    with unit_of_work(store) as session:
        enqueue_notices(session, [notice_for(i) for i in range(n)], now=DAYTIME)
    down = peers.free_port()
    channels = channels_from_settings(
        settings,
        NotifySettings(
            smtp_url=f"smtp://127.0.0.1:{down}?timeout=1",  # failures get logged
            smpp_url=f"smpp://cp:pw@127.0.0.1:{smpp_peer.port}",
            push_url=f"http://127.0.0.1:{down}/m",
            push_secret=SECRET,
        ),
    )
    caplog.set_level(logging.DEBUG)
    dispatcher = Dispatcher(store, channels, cipher, clock=lambda: DAYTIME)
    report = dispatcher.run_once()
    dispatcher.close()
    assert report.sent == n
    assert report.retried == 2 * n
    logged = caplog.text
    assert "not accepted" in logged  # the failures were logged, masked
    for i in range(n):
        for secret in (phone_of(i), email_of(i), name_of(i), national_id_of(i)):
            assert secret not in logged


def test_a_refused_address_goes_dead_at_once_without_the_address_in_logs_or_store(
    store: Engine, cipher: FieldCipher, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from sqlalchemy import select

    from cardpilot.store.notify_models import DeliveryAttempt, OutboxMessage

    add_customers(store, cipher, 2)
    with unit_of_work(store) as session:
        enqueue_notices(session, [notice_for(0), notice_for(1)], channels=("email",), now=DAYTIME)
    refusing = peers.smtp_peer(tmp_path / "refuse.jsonl", None, "--refuse").start()
    caplog.set_level(logging.DEBUG)
    try:
        smtp = SmtpChannel.from_url(f"smtp://127.0.0.1:{refusing.port}")
        dispatcher = Dispatcher(store, {"email": smtp}, cipher, clock=lambda: DAYTIME)
        report = dispatcher.run_once()
        dispatcher.close()
    finally:
        refusing.stop()
    assert report.dead == 2
    with store.connect() as conn:
        errors = conn.scalars(select(OutboxMessage.last_error)).all()
        details = conn.scalars(select(DeliveryAttempt.detail)).all()
    assert all("550" in e for e in errors)
    for text in (caplog.text, " ".join(errors), " ".join(d or "" for d in details)):
        assert email_of(0) not in text
        assert email_of(1) not in text


@pytest.mark.parametrize(
    ("key", "text", "coding", "parts"),
    [
        # English: GSM-7, 153 septets a part, so the longest English notice (459) is 3 parts.
        ("k-en-459", ("Your credit limit is now CNY 15,000. " * 13)[:459], 0, 3),
        # An extension character takes two septets: 458 characters and one € are 460 septets.
        ("k-en-euro", "€" + "x" * 458, 0, 4),
        # zh-CN: UCS-2, 67 characters a part, so the longest Chinese notice (134) is 2 parts.
        ("k-zh-134", ("您的信用额度已调整，详情请查看手机银行。" * 7)[:134], 8, 2),
    ],
)
def test_an_sms_goes_out_in_its_coding_and_as_few_parts_as_it_needs(
    smpp_peer: peers.Peer, key: str, text: str, coding: int, parts: int
) -> None:
    from cardpilot.notify.channels import Outgoing

    smsc = SmppChannel.from_url(f"smpp://cp:pw@127.0.0.1:{smpp_peer.port}")
    item = Outgoing(key, "C1", "limit_change", "en", "8613900000000", None, text, None)
    assert smsc.send_batch([item])[0].ok
    smsc.close()
    _wait_for(lambda: any(e["key"] == key for e in smpp_peer.entries()))
    entry = next(e for e in smpp_peer.entries() if e["key"] == key)
    # The peer (the npm smpp package) decodes each part by its data_coding and joins them.
    assert (entry["data_coding"], entry["parts"], entry["text"]) == (coding, parts, text)


def test_the_smpp_session_survives_enquire_link_and_unbinds_on_close(
    smpp_peer: peers.Peer,
) -> None:
    from cardpilot.notify.channels import Outgoing

    smsc = SmppChannel.from_url(f"smpp://cp:pw@127.0.0.1:{smpp_peer.port}")
    item = Outgoing("k-ascii", "C1", "limit_change", "en", "8613900000000", None, "Hi " * 60, None)
    assert smsc.send_batch([item])[0].ok
    first = smsc.sock
    smsc.keepalive()
    assert smsc.sock is first  # enquire_link answered: same bound session
    assert smsc.send_batch([Outgoing("k2", "C1", "t", "en", "8613900000000", None, "ok", None)])[
        0
    ].ok
    smsc.close()
    assert smsc.sock is None
    _wait_for(lambda: len(smpp_peer.entries()) == 2)
    latin = next(e for e in smpp_peer.entries() if e["key"] == "k-ascii")
    assert latin["text"] == "Hi " * 60
    assert latin["parts"] == 2
