"""Fixtures of the notify tests: a store with customers, and the loopback peers (an aiosmtpd
SMTP server, the npm `smpp` package's SMSC, a stdlib HTTP gateway), each a child process."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from cardpilot.config import Settings
from cardpilot.notify.notice import LimitChangeNotice, NoticeReason
from cardpilot.privacy import FieldCipher, KeyRing
from cardpilot.store.db import make_engine, unit_of_work, upgrade
from cardpilot.store.models import Account, Customer

sys.path.insert(0, str(Path(__file__).resolve().parent))

from peers import run as peers

# 10:00 in Shanghai: outside the default quiet hours (21:00–08:00).
DAYTIME = dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC)
SECRET = "push-test-secret"

REASONS = (
    NoticeReason(
        "LIMIT_INCREASE_GOOD_REPAYMENT",
        "您的用卡和还款记录良好，信用额度已提升。",
        "Your card use and repayment record are good, so your credit limit has been raised.",
    ),
    NoticeReason(
        "INCREASE_CAPPED_GRADE",
        "提额幅度受您所在信用等级的额度上限限制。",
        "The increase is limited by the maximum limit for your credit grade.",
    ),
)


def phone_of(i: int) -> str:
    return f"1391234{i:04d}"


def email_of(i: int) -> str:
    return f"customer{i}@example.com"


def name_of(i: int) -> str:
    return f"王小明{i}"


def national_id_of(i: int) -> str:
    return f"11010519900307{i:04d}"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    ring = KeyRing.generate("test-1")
    return Settings(home=tmp_path / "home", pii_keys=ring.to_spec())


@pytest.fixture
def cipher(settings: Settings) -> FieldCipher:
    return FieldCipher.from_settings(settings)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


def add_customers(
    engine: Engine, cipher: FieldCipher, n: int, *, locale_of: object = None
) -> list[str]:
    """Customers C0000.. with encrypted contacts and one account each (A…); every third
    customer reads English when ``locale_of`` is not given."""
    ids = []
    with unit_of_work(engine) as s:
        for i in range(n):
            locale = locale_of(i) if callable(locale_of) else ("en" if i % 3 == 2 else "zh-CN")
            s.add(
                Customer(
                    customer_id=f"C{i:04d}",
                    name_enc=cipher.encrypt(name_of(i)),
                    national_id_enc=cipher.encrypt(national_id_of(i)),
                    phone_enc=cipher.encrypt(phone_of(i)),
                    email_enc=cipher.encrypt(email_of(i)),
                    locale=locale,
                )
            )
            ids.append(f"C{i:04d}")
        s.flush()
        for i in range(n):
            s.add(Account(account_id=f"A{i:08d}", customer_id=f"C{i:04d}", credit_limit_minor=1))
    return ids


def notice_for(i: int, *, old: int = 1_000_000, new: int = 1_500_000) -> LimitChangeNotice:
    return LimitChangeNotice(
        decision_id=f"test-decision-{i}",
        account_id=f"A{i:08d}",
        customer_id=f"C{i:04d}",
        old_limit_minor=old,
        new_limit_minor=new,
        currency="CNY",
        effective_date=dt.date(2026, 12, 1),
        reasons=REASONS,
        policy_version="limits-test-1",
    )


@pytest.fixture
def smtp_peer(tmp_path: Path) -> Iterator[peers.Peer]:
    peer = peers.smtp_peer(tmp_path / "smtp.jsonl").start()
    yield peer
    peer.stop()


@pytest.fixture
def smpp_peer(tmp_path: Path) -> Iterator[peers.Peer]:
    peer = peers.smpp_peer(tmp_path / "smpp.jsonl").start()
    yield peer
    peer.stop()


@pytest.fixture
def http_peer(tmp_path: Path) -> Iterator[peers.Peer]:
    peer = peers.http_peer(tmp_path / "http.jsonl", SECRET).start()
    yield peer
    peer.stop()
