"""The NATS JetStream server on loopback (``CARDPILOT_TEST_NATS_URL``, default
nats://127.0.0.1:4222); each test gets streams and subjects of its own, deleted afterwards.
Unreachable: the tests skip with the reason, unless ``CARDPILOT_REQUIRE_NATS=1`` (CI)."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Iterator
from urllib.parse import urlparse

import pytest

from cardpilot.stream.broker import Broker

from .helpers import delete_streams

DEFAULT_NATS_URL = "nats://127.0.0.1:4222"


def _reachable(url: str) -> bool:
    parts = urlparse(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 4222), 2):
            return True
    except OSError:
        return False


@pytest.fixture
def broker() -> Iterator[Broker]:
    url = os.environ.get("CARDPILOT_TEST_NATS_URL", DEFAULT_NATS_URL)
    if not _reachable(url):
        message = f"NATS not reachable at {url}"
        if os.environ.get("CARDPILOT_REQUIRE_NATS") == "1":
            pytest.fail(f"{message}; CARDPILOT_REQUIRE_NATS=1 makes this a failure")
        pytest.skip(f"{message}; set CARDPILOT_TEST_NATS_URL to run the broker tests")
    tag = uuid.uuid4().hex[:10]
    b = Broker(url=url, stream=f"TEST_EVENTS_{tag}", prefix=f"test.{tag}", durable=f"t{tag}")
    yield b
    asyncio.run(delete_streams(b))
