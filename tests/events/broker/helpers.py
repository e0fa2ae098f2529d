"""A store with accounts, publishing, consuming and reading dead letters, for the broker tests."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from cardpilot.events.policy import load_events_policy
from cardpilot.store.db import make_engine, upgrade
from cardpilot.store.models import Account, Customer
from cardpilot.stream.broker import Broker, connect
from cardpilot.stream.consumer import ConsumeCounts, ConsumeOptions, consume
from cardpilot.stream.publish import PublishCounts, publish_lines
from cardpilot.warning.policy import WarningPolicy

TZ = ZoneInfo("Asia/Shanghai")


def account_ids(n: int) -> list[str]:
    return [f"A{i:05d}" for i in range(1, n + 1)]


def make_store(url: str, accounts: list[str]) -> Engine:
    """A migrated store at ``url`` holding ``accounts`` (one customer each)."""
    upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session, session.begin():
        session.add_all(Customer(customer_id=f"C{a}") for a in accounts)
        session.flush()
        session.add_all(
            Account(account_id=a, customer_id=f"C{a}", credit_limit_minor=1_000_000)
            for a in accounts
        )
    return engine


def publish(broker: Broker, lines: list[bytes]) -> PublishCounts:
    return asyncio.run(publish_lines(broker, iter(lines)))


def consume_all(
    engine: Engine,
    broker: Broker,
    *,
    batch: int = 100,
    idle_exit_s: float = 1.0,
    warning: WarningPolicy | None = None,
) -> ConsumeCounts:
    options = ConsumeOptions(
        batch=batch, ack_wait_s=2.0, fetch_timeout_s=0.5, idle_exit_s=idle_exit_s
    )
    stop = asyncio.Event()
    policy = load_events_policy()
    return asyncio.run(consume(engine, broker, policy, TZ, options, stop, warning=warning))


async def _dead_letters(broker: Broker) -> list[dict[str, Any]]:
    nc, js = await connect(broker)
    try:
        info = await js.stream_info(broker.dead_stream)
        if not info.state.messages:
            return []
        out = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            msg = await js.get_msg(broker.dead_stream, seq)
            out.append(json.loads(msg.data or b"{}"))
        return out
    finally:
        await nc.close()


def dead_letters(broker: Broker) -> list[dict[str, Any]]:
    return asyncio.run(_dead_letters(broker))


def now8() -> dt.datetime:
    return dt.datetime.now(dt.timezone(dt.timedelta(hours=8)))


async def delete_streams(broker: Broker) -> None:
    nc, js = await connect(broker)
    try:
        for name in (broker.stream, broker.dead_stream):
            with contextlib.suppress(Exception):  # never made, or gone already
                await js.delete_stream(name)
    finally:
        await nc.close()
