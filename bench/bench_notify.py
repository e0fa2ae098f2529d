"""Notify benchmark (``make bench-notify``): outbox → loopback servers, per channel.

    python bench/bench_notify.py [--messages 100000] [--channels email,sms,app] [--window 64]

For each channel: a fresh SQLite store with ``--messages`` customers (phone and e-mail
encrypted as in production), one limit-change notice per customer queued for that channel
(rendered from the templates, zh-CN and en), then one dispatcher pass delivers them to a
server on loopback: aiosmtpd (SMTP, one message per Message-ID), the npm ``smpp`` package's
SMSC (long Chinese texts as concatenated UCS-2 parts) or a stdlib HTTP/1.1 gateway (signed
POSTs). The clock covers the dispatch only (claim, decrypt, send, record); queueing is
reported beside it. Each peer runs in its own process and counts what it accepted.

Prints one JSON object per channel with ``bench, channel, messages, seconds,
messages_per_s`` (targets on 2 cores: e-mail ≥ 500/s, SMS ≥ 1,000/s, in-app ≥ 1,000/s) and
writes them to ``bench/results/notify.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "notify"))

from peers import run as peers  # noqa: E402

from cardpilot.config import Settings  # noqa: E402
from cardpilot.notify.channels import Channel  # noqa: E402
from cardpilot.notify.channels.push import PushChannel  # noqa: E402
from cardpilot.notify.channels.smpp import SmppChannel  # noqa: E402
from cardpilot.notify.channels.smtp import SmtpChannel  # noqa: E402
from cardpilot.notify.compose import Composer  # noqa: E402
from cardpilot.notify.dispatch import Dispatcher, outbox_status  # noqa: E402
from cardpilot.notify.notice import LimitChangeNotice, NoticeReason  # noqa: E402
from cardpilot.notify.outbox import insert_rows, render_rows  # noqa: E402
from cardpilot.notify.prefs import ContactPrefs  # noqa: E402
from cardpilot.notify.window import DEFAULT_WINDOW  # noqa: E402
from cardpilot.privacy import FieldCipher, KeyRing  # noqa: E402
from cardpilot.store.db import make_engine, unit_of_work, upgrade  # noqa: E402
from cardpilot.store.models import Customer  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "notify.json"
TARGETS = {"email": 500, "sms": 1000, "app": 1000}
DAYTIME = dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC)  # 10:00 in Shanghai
SECRET = "bench-secret"
REASONS = (
    NoticeReason(
        "LIMIT_INCREASE_GOOD_REPAYMENT",
        "您的用卡和还款记录良好，信用额度已提升。",
        "Your card use and repayment record are good, so your credit limit has been raised.",
    ),
)


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        )
        return out.stdout.strip()
    except OSError:
        return "unknown"


def prepare(folder: Path, n: int, channel: str, cipher: FieldCipher) -> tuple[Any, float]:
    url = f"sqlite:///{folder / f'{channel}.db'}"
    upgrade(url)
    engine = make_engine(url)
    started = time.perf_counter()
    with unit_of_work(engine) as session:
        for start in range(0, n, 10_000):
            ids = range(start, min(n, start + 10_000))
            session.execute(
                Customer.__table__.insert(),
                [
                    {
                        "customer_id": f"C{i:07d}",
                        "phone_enc": cipher.encrypt(f"139{i:08d}"),
                        "email_enc": cipher.encrypt(f"customer{i}@example.com"),
                        "locale": "en" if i % 4 == 3 else "zh-CN",
                        "timezone": "Asia/Shanghai",
                    }
                    for i in ids
                ],
            )
    composer = Composer()
    prefs = {f"C{i:07d}": ContactPrefs(locale="en" if i % 4 == 3 else "zh-CN") for i in range(n)}
    with unit_of_work(engine) as session:
        for start in range(0, n, 10_000):
            notices = [
                LimitChangeNotice(
                    decision_id=f"bench-{i}",
                    account_id=f"A{i:09d}",
                    customer_id=f"C{i:07d}",
                    old_limit_minor=1_000_000 + 100 * (i % 500),
                    new_limit_minor=1_500_000 + 100 * (i % 500),
                    currency="CNY",
                    effective_date=dt.date(2026, 12, 1),
                    reasons=REASONS,
                    policy_version="bench",
                )
                for i in range(start, min(n, start + 10_000))
            ]
            insert_rows(session, render_rows(notices, prefs, composer, DAYTIME, (channel,)))
    return engine, time.perf_counter() - started


def start_peer(channel: str, folder: Path) -> tuple[peers.Peer, Channel]:
    log = folder / f"{channel}.jsonl"
    if channel == "email":
        peer = peers.smtp_peer(log, None, "--fast").start()
        return peer, SmtpChannel.from_url(f"smtp://127.0.0.1:{peer.port}?connections=2")
    if channel == "sms":
        peer = peers.smpp_peer(log).start()
        return peer, SmppChannel.from_url(f"smpp://bench:pw@127.0.0.1:{peer.port}?window=256")
    peer = peers.http_peer(log, SECRET).start()
    return peer, PushChannel.from_url(f"http://127.0.0.1:{peer.port}/v1/messages", SECRET)


def run_channel(
    channel: str, n: int, folder: Path, cipher: FieldCipher, window: int
) -> dict[str, Any]:
    engine, queue_seconds = prepare(folder, n, channel, cipher)
    peer, sender = start_peer(channel, folder)
    try:
        dispatcher = Dispatcher(
            engine,
            {channel: sender},
            cipher,
            batch_size=2000,
            window=window,
            clock=lambda: DAYTIME,
        )
        started = time.perf_counter()
        report = dispatcher.run_once()
        seconds = time.perf_counter() - started
        dispatcher.close()
        deadline = time.monotonic() + 30
        while peer.count_lines() < report.sent and time.monotonic() < deadline:
            time.sleep(0.1)
        entries = peer.count_lines()
    finally:
        peer.stop()
    status = outbox_status(engine)
    engine.dispose()
    return {
        "bench": "notify",
        "channel": channel,
        "messages": report.sent,
        "seconds": round(seconds, 2),
        "messages_per_s": round(report.sent / seconds, 1),
        "window": window,
        "outcome_writes": report.flushes,
        "target_per_s": TARGETS[channel],
        "accepted_at_peer": entries,
        "outbox": status["totals"],
        "queue_seconds": round(queue_seconds, 2),
        "store": "sqlite",
        "commit": _commit(),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "python": platform.python_version(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--channels", default="email,sms,app")
    parser.add_argument(
        "--window",
        type=int,
        default=DEFAULT_WINDOW,
        help="the dispatcher's send window (messages sent and not yet recorded)",
    )
    args = parser.parse_args()
    ring = KeyRing.generate("bench-1")
    results = []
    with tempfile.TemporaryDirectory(prefix="cardpilot-bench-notify-") as tmp:
        folder = Path(tmp)
        settings = Settings(home=folder / "home", pii_keys=ring.to_spec())
        cipher = FieldCipher.from_settings(settings)
        for channel in args.channels.split(","):
            line = run_channel(channel, args.messages, folder, cipher, args.window)
            print(json.dumps(line), flush=True)
            results.append(line)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
