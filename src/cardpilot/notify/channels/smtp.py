"""E-mail over SMTP: multipart plain text + HTML, STARTTLS and login, sessions reused.

Throughput comes from keeping each SMTP session open across many messages (one TCP and TLS
handshake, one login) and from a few sessions in parallel (``connections=N`` in the URL).
The idempotency key is the ``Message-ID`` (``<key@cardpilot>``); receivers and mailbox
providers use it to drop a duplicate.
"""

from __future__ import annotations

import base64
import logging
import smtplib
import socket
import ssl
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.utils import formatdate
from urllib.parse import parse_qs, unquote, urlsplit

from cardpilot.notify.channels import Acks, Outgoing, SendResult, Unbounded
from cardpilot.privacy.masking import mask_email, redact_text

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    implicit_tls: bool
    starttls: str  # auto | require | off
    username: str | None
    password: str | None
    sender: str
    connections: int
    cafile: str | None
    timeout: float

    @classmethod
    def from_url(cls, url: str) -> SmtpConfig:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise ValueError(f"CARDPILOT_SMTP_URL must start with smtp:// or smtps://, got {url!r}")
        q = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        starttls = q.get("starttls", "auto")
        if starttls not in ("auto", "require", "off"):
            raise ValueError("CARDPILOT_SMTP_URL starttls= must be auto, require or off")
        implicit = parts.scheme == "smtps"
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or (465 if implicit else 25),
            implicit_tls=implicit,
            starttls="off" if implicit else starttls,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            sender=q.get("from", "notices@cardpilot.invalid"),
            connections=max(1, int(q.get("connections", "2"))),
            cafile=q.get("ca"),
            timeout=float(q.get("timeout", "30")),
        )

    def tls_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.cafile)


def encode_header(value: str) -> str:
    """RFC 2047 encoded words (UTF-8, base64), folded; plain ASCII stays as it is."""
    if value.isascii() and len(value) < 900:
        return value
    words, chunk = [], b""
    for ch in value:
        b = ch.encode("utf-8")
        if len(chunk) + len(b) > 45:  # 45 bytes → 60 base64 characters per encoded word
            words.append(chunk)
            chunk = b""
        chunk += b
    if chunk:
        words.append(chunk)
    return "\r\n ".join(f"=?utf-8?b?{base64.b64encode(w).decode('ascii')}?=" for w in words)


def _base64_body(text: str) -> bytes:
    return base64.encodebytes(text.encode("utf-8")).replace(b"\n", b"\r\n")


def build_email(item: Outgoing, sender: str) -> bytes:
    """The message as bytes: multipart/alternative (text, HTML) in UTF-8, base64 bodies.

    Written by hand rather than with ``email.message.EmailMessage``, whose header folding
    costs milliseconds a message: the layout is fixed, and the test server parses the result
    with the standard library to check it.
    """
    head = (
        f"From: {sender}\r\n"
        f"To: {item.address}\r\n"
        f"Subject: {encode_header(item.subject or '')}\r\n"
        f"Date: {formatdate(usegmt=True)}\r\n"
        f"Message-ID: <{item.message_key}@cardpilot>\r\n"
        f"Content-Language: {item.locale}\r\n"
        f"X-Cardpilot-Type: {item.message_type}\r\n"
        "MIME-Version: 1.0\r\n"
    )
    text_part = (
        b'Content-Type: text/plain; charset="utf-8"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n" + _base64_body(item.body_text)
    )
    if not item.body_html:
        return head.encode("utf-8") + text_part
    boundary = f"=_cardpilot_{item.message_key}".encode("ascii")
    html_part = (
        b'Content-Type: text/html; charset="utf-8"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n" + _base64_body(item.body_html)
    )
    return (
        head.encode("utf-8")
        + b'Content-Type: multipart/alternative; boundary="'
        + boundary
        + b'"\r\n\r\n'
        + b"--"
        + boundary
        + b"\r\n"
        + text_part
        + b"--"
        + boundary
        + b"\r\n"
        + html_part
        + b"--"
        + boundary
        + b"--\r\n"
    )


class _Session:
    """One SMTP session, opened on first use and reopened after an error."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self.client: smtplib.SMTP | None = None

    def open(self) -> smtplib.SMTP:
        if self.client is not None:
            return self.client
        c = self.config
        client: smtplib.SMTP
        if c.implicit_tls:
            client = smtplib.SMTP_SSL(c.host, c.port, timeout=c.timeout, context=c.tls_context())
        else:
            client = smtplib.SMTP(c.host, c.port, timeout=c.timeout)
        try:
            # Small commands in a row: without TCP_NODELAY, Nagle's algorithm and the peer's
            # delayed ACK can add tens of milliseconds to every message.
            if client.sock is not None:
                client.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            client.ehlo()
            if c.starttls != "off" and client.has_extn("starttls"):
                client.starttls(context=c.tls_context())
                client.ehlo()
            elif c.starttls == "require":
                raise smtplib.SMTPNotSupportedError("server does not offer STARTTLS (required)")
            if c.username:
                client.login(c.username, c.password or "")
        except BaseException:
            client.close()
            raise
        self.client = client
        return client

    def reset(self) -> None:
        if self.client is not None:
            try:
                self.client.close()
            finally:
                self.client = None

    def send(self, item: Outgoing) -> SendResult:
        try:
            client = self.open()
            data = build_email(item, self.config.sender)
            refused = client.sendmail(self.config.sender, [item.address], data)
            if refused:
                codes = sorted({code for code, _ in refused.values()})
                return SendResult(ok=False, error=f"recipient refused {codes}", permanent=True)
            return SendResult(ok=True, provider_ref=f"<{item.message_key}@cardpilot>")
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            permanent = all(500 <= code < 600 for code in codes)
            return SendResult(ok=False, error=f"recipient refused {codes}", permanent=permanent)
        except smtplib.SMTPResponseException as exc:
            raw = exc.smtp_error
            said = (raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw))[:200]
            error = f"SMTP {exc.smtp_code} {said}".strip()
            if 500 <= exc.smtp_code < 600 and exc.smtp_code not in (530, 535):
                return SendResult(ok=False, error=error, permanent=True)
            self.reset()
            return SendResult(ok=False, error=error)
        except (OSError, smtplib.SMTPException) as exc:
            self.reset()
            return SendResult(ok=False, error=f"SMTP {type(exc).__name__}: {exc}")

    def noop(self) -> None:
        if self.client is None:
            return
        try:
            self.client.noop()
        except (OSError, smtplib.SMTPException):
            self.reset()

    def quit(self) -> None:
        if self.client is None:
            return
        try:
            self.client.quit()
        except (OSError, smtplib.SMTPException):
            pass
        finally:
            self.client = None


class SmtpChannel:
    name = "email"

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self._sessions = [_Session(config) for _ in range(config.connections)]
        self._pool = ThreadPoolExecutor(config.connections, thread_name_prefix="smtp")
        self._lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str) -> SmtpChannel:
        return cls(SmtpConfig.from_url(url))

    def _send_slice(
        self, session: _Session, items: Sequence[tuple[int, Outgoing]], acks: Acks
    ) -> list[SendResult]:
        out = []
        failed_connect = False
        for index, item in items:
            if failed_connect:
                # The server is unreachable: do not hammer it message by message.
                out.append(SendResult(ok=False, error="SMTP server unreachable"))
                continue
            acks.admit()
            result = session.send(item)
            acks.done(index, result)
            if not result.ok:
                log.info(
                    "e-mail %s to %s not accepted: %s",
                    item.message_key,
                    mask_email(item.address),
                    redact_text(result.error or ""),
                )
                failed_connect = session.client is None and not result.permanent
            out.append(result)
        return out

    def send_batch(self, items: Sequence[Outgoing], acks: Acks | None = None) -> list[SendResult]:
        acks = acks or Unbounded()
        n = len(self._sessions)
        indexed = list(enumerate(items))
        slices = [indexed[i::n] for i in range(n)]
        with self._lock:
            futures = [
                self._pool.submit(self._send_slice, s, part, acks)
                for s, part in zip(self._sessions, slices, strict=True)
                if part
            ]
            results_by_slice = [f.result() for f in futures]
        out: list[SendResult | None] = [None] * len(items)
        for i, results in enumerate(results_by_slice):
            for j, r in enumerate(results):
                out[i + j * n] = r
        return [r if r is not None else SendResult(ok=False, error="not sent") for r in out]

    def keepalive(self) -> None:
        for s in self._sessions:
            s.noop()

    def close(self) -> None:
        for s in self._sessions:
            s.quit()
        self._pool.shutdown(wait=True)
