"""In-app messages: signed HTTP(S) POSTs to the mobile-banking gateway.

Each POST carries a JSON body, an ``Idempotency-Key`` header (the message key: the gateway
drops a repeat), and ``X-Cardpilot-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>`` over
``"<t>.<body>"`` with the shared secret (``CARDPILOT_PUSH_SECRET``), so the gateway can check
who sent it and refuse a replay outside its time tolerance. Connections are kept alive and
several run in parallel (``connections=N`` in the URL, default 8).

The body names the customer by id, not by phone or e-mail: the gateway knows the devices.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import socket
import ssl
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from cardpilot.notify.channels import Acks, Outgoing, SendResult, Unbounded


@dataclass(frozen=True)
class PushConfig:
    scheme: str
    host: str
    port: int
    path: str
    secret: bytes
    connections: int
    timeout: float

    @classmethod
    def from_url(cls, url: str, secret: str | None) -> PushConfig:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise ValueError(f"CARDPILOT_PUSH_URL must be http:// or https://, got {url!r}")
        if not secret:
            raise ValueError(
                "CARDPILOT_PUSH_URL is set but CARDPILOT_PUSH_SECRET (HMAC key) is not"
            )
        q = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        return cls(
            scheme=parts.scheme,
            host=parts.hostname or "127.0.0.1",
            port=parts.port or (443 if parts.scheme == "https" else 80),
            path=parts.path or "/",
            secret=secret.encode("utf-8"),
            connections=max(1, int(q.get("connections", "8"))),
            timeout=float(q.get("timeout", "30")),
        )


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: bytes, header: str, body: bytes, tolerance_s: float = 300) -> bool:
    """The gateway's side of the signature check (used by tests and shipped for gateways)."""
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        ts = int(fields["t"])
    except (ValueError, KeyError):
        return False
    if abs(time.time() - ts) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, ts, body), header)


def push_body(item: Outgoing) -> bytes:
    payload = {
        "message_key": item.message_key,
        "customer_id": item.customer_id,
        "type": item.message_type,
        "locale": item.locale,
        "title": item.subject,
        "body": item.body_text,
    }
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class PushChannel:
    name = "app"

    def __init__(self, config: PushConfig) -> None:
        self.config = config
        self._local = threading.local()
        self._pool = ThreadPoolExecutor(config.connections, thread_name_prefix="push")

    @classmethod
    def from_url(cls, url: str, secret: str | None) -> PushChannel:
        return cls(PushConfig.from_url(url, secret))

    def _conn(self) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            c = self.config
            if c.scheme == "https":
                conn = http.client.HTTPSConnection(
                    c.host, c.port, timeout=c.timeout, context=ssl.create_default_context()
                )
            else:
                conn = http.client.HTTPConnection(c.host, c.port, timeout=c.timeout)
            conn.connect()
            if conn.sock is not None:
                conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._local.conn = conn
        return conn

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
        self._local.conn = None

    def _post(self, item: Outgoing) -> SendResult:
        body = push_body(item)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Idempotency-Key": item.message_key,
            "X-Cardpilot-Signature": sign(self.config.secret, int(time.time()), body),
        }
        for attempt in (1, 2):
            try:
                conn = self._conn()
                conn.request("POST", self.config.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
            except (OSError, http.client.HTTPException) as exc:
                self._drop()
                # A kept-alive connection the server closed meanwhile: one fresh try.
                if attempt == 1 and isinstance(
                    exc, http.client.RemoteDisconnected | BrokenPipeError | ConnectionResetError
                ):
                    continue
                return SendResult(ok=False, error=f"HTTP {type(exc).__name__}: {exc}")
            if resp.will_close:
                self._drop()
            if 200 <= resp.status < 300 or resp.status == 409:  # 409: already have it
                ref = resp.getheader("X-Message-Id") or data[:64].decode("utf-8", "replace")
                return SendResult(ok=True, provider_ref=ref or None)
            permanent = 400 <= resp.status < 500 and resp.status not in (408, 429)
            return SendResult(ok=False, error=f"HTTP {resp.status}", permanent=permanent)
        return SendResult(ok=False, error="HTTP connection lost")

    def send_batch(self, items: Sequence[Outgoing], acks: Acks | None = None) -> list[SendResult]:
        window = acks or Unbounded()

        def post(index: int, item: Outgoing) -> SendResult:
            window.admit()
            result = self._post(item)
            window.done(index, result)
            return result

        return list(self._pool.map(post, range(len(items)), items))

    def keepalive(self) -> None:
        return None

    def close(self) -> None:
        self._pool.shutdown(wait=True)
