"""An SMTP server for the notify tests and benchmark (aiosmtpd), recording each message once
per Message-ID; a repeat is recorded as a duplicate. Optional STARTTLS + login.

usage: python smtp_peer.py PORT LOGFILE [--tls CERT KEY --auth USER:PASS] [--delay S]
Prints ``READY <port>`` when listening.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import signal
import ssl
import sys
import time
from email import message_from_bytes, policy
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

_MESSAGE_ID = re.compile(rb"^Message-ID: <([^@>]+)", re.MULTILINE | re.IGNORECASE)


class _SMTP(SMTP):
    # asyncio's StreamReader (Python 3.11+) can raise LimitOverrunError when a client writes a
    # whole message in one go and the buffer exceeds the reader's limit, which aiosmtpd sets to
    # the line length limit; a larger buffer avoids a spurious "500 Line too long".
    line_length_limit = 1 << 20


class _Controller(Controller):
    def factory(self) -> SMTP:
        return _SMTP(self.handler, **self.SMTP_kwargs)


class Recorder:
    refuse = False

    async def handle_RCPT(  # noqa: N802
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if self.refuse:  # a server that echoes the address it refuses, as many do
            return f"550 5.1.1 <{address}>: Recipient address rejected"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    def __init__(self, log_path: str, delay: float, fast: bool) -> None:
        self.out = open(log_path, "a", encoding="utf-8", buffering=1 << 16)  # noqa: SIM115
        self.seen: set[str] = set()
        self.delay = delay
        self.fast = fast

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.delay:
            time.sleep(self.delay)  # a slow server, so a test can kill a sender mid-batch
        if self.fast:  # the benchmark: only the key, no MIME parsing
            found = _MESSAGE_ID.search(envelope.content)
            key = found.group(1).decode() if found else ""
            self.out.write(json.dumps({"key": key, "duplicate": key in self.seen}) + "\n")
            self.out.flush()
            self.seen.add(key)
            return "250 OK"
        msg = message_from_bytes(envelope.content, policy=policy.default)
        key = str(msg["Message-ID"]).strip("<>").split("@")[0]
        text = msg.get_body(("plain",))
        html = msg.get_body(("html",))
        entry = {
            "key": key,
            "to": envelope.rcpt_tos,
            "subject": str(msg["Subject"]),
            "language": str(msg["Content-Language"]),
            "text": text.get_content() if text else None,
            "html": html.get_content() if html else None,
            "tls": bool(session.ssl),
            "duplicate": key in self.seen,
        }
        self.seen.add(key)
        self.out.write(json.dumps(entry, ensure_ascii=False) + "\n")
        self.out.flush()
        return "250 OK"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("port", type=int)
    p.add_argument("log")
    p.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    p.add_argument("--auth")
    p.add_argument("--delay", type=float, default=0.0)
    p.add_argument("--fast", action="store_true", help="record keys only (benchmark)")
    p.add_argument("--refuse", action="store_true", help="refuse every recipient (550)")
    args = p.parse_args()
    kwargs: dict[str, Any] = {}
    if args.tls:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(*args.tls)
        kwargs.update(tls_context=ctx, require_starttls=True)
    if args.auth:
        user, password = args.auth.split(":", 1)

        def authenticator(
            _server: Any, _session: Any, _envelope: Any, _mech: str, data: Any
        ) -> Any:
            ok = isinstance(data, LoginPassword) and (
                data.login.decode(),
                data.password.decode(),
            ) == (user, password)
            # handled=False: the server answers a refusal with 535, as a real one does
            # (aiosmtpd's default, handled=True, leaves the client waiting for an answer).
            return AuthResult(success=ok, handled=False)

        kwargs.update(authenticator=authenticator, auth_require_tls=bool(args.tls))
    recorder = Recorder(args.log, args.delay, args.fast)
    recorder.refuse = args.refuse
    controller = _Controller(recorder, hostname="127.0.0.1", port=args.port, **kwargs)
    controller.start()
    sys.stdout.write(f"READY {args.port}\n")
    sys.stdout.flush()
    stop = asyncio.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.is_set():
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
