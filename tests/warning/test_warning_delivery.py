"""Early-warning messages go through the outbox's dispatcher and keep its manners: queued at
night, an in-app warning waits for the end of quiet hours (08:00 in the customer's zone) and
goes then, to the loopback in-app gateway of the notify tests (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cardpilot.config import Settings
from cardpilot.jobs.warning import run_warning
from cardpilot.notify.channels.factory import channels_from_settings
from cardpilot.notify.dispatch import Dispatcher, outbox_status
from cardpilot.notify.outbox import message_key
from cardpilot.notify.settings import NotifySettings
from cardpilot.privacy import FieldCipher, KeyRing
from cardpilot.store.db import make_engine
from support.scorers import warning_scorer

from .test_warn_run import AS_OF, LATEST, PDS, build_store

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "notify"))

from peers import run as peers

SECRET = "warning-push-secret"
NIGHT = dt.datetime(2026, 3, 17, 14, 0, tzinfo=dt.UTC)  # 22:00 in Shanghai
MORNING = dt.datetime(2026, 3, 18, 0, 1, tzinfo=dt.UTC)  # 08:01 in Shanghai


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", pii_keys=KeyRing.generate("warn-1").to_spec())


@pytest.fixture
def http_peer(tmp_path: Path) -> Iterator[peers.Peer]:
    peer = peers.http_peer(tmp_path / "http.jsonl", SECRET).start()
    yield peer
    peer.stop()


def test_quiet_hours_hold_an_in_app_warning_until_eight(
    store_url: str, settings: Settings, http_peer: peers.Peer
) -> None:
    build_store(store_url)
    result = run_warning(
        store_url, as_of=AS_OF, model=warning_scorer(PDS), now=NIGHT, timezone="Asia/Shanghai"
    )
    assert result.queued == 4
    clock = {"now": NIGHT}
    channels = channels_from_settings(
        settings,
        NotifySettings(
            push_url=f"http://127.0.0.1:{http_peer.port}/v1/messages?connections=2",
            push_secret=SECRET,
        ),
    )
    dispatcher = Dispatcher(
        make_engine(store_url),
        channels,
        FieldCipher.from_settings(settings),
        clock=lambda: clock["now"],
    )
    night = dispatcher.run_once()
    assert (night.sent, night.held) == (0, 4)
    assert http_peer.entries() == []
    clock["now"] = MORNING
    morning = dispatcher.run_once()
    dispatcher.close()
    assert morning.sent == 4
    assert outbox_status(dispatcher.engine)["totals"] == {"sent": 4}
    sent = {e["customer_id"]: e for e in http_peer.entries()}
    ref = f"warning:unpaid_near_due:{LATEST:%Y%m%d}:w2-near-due"
    assert sent["c-w2-near-due"]["key"] == message_key(ref, "early_warning", "app")
    dispatcher.engine.dispose()
