"""The mobile-banking gateway stand-in: an HTTP/1.1 keep-alive server that checks the HMAC
signature and records each message once per Idempotency-Key (a repeat: a duplicate).

usage: python http_peer.py PORT LOGFILE SECRET [--fail-first N] [--delay S]
Prints ``READY <port>`` when listening. Answers 401 to a bad signature, 503 to the first N
requests with --fail-first; with --delay, holds each answer back S seconds after recording the
message (a slow gateway, so a test can kill a sender mid-batch).
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("port", type=int)
    p.add_argument("log")
    p.add_argument("secret")
    p.add_argument("--fail-first", type=int, default=0)
    p.add_argument("--delay", type=float, default=0.0)
    args = p.parse_args()
    secret = args.secret.encode()
    out = open(args.log, "a", encoding="utf-8", buffering=1 << 16)  # noqa: SIM115
    lock = threading.Lock()
    seen: set[str] = set()
    state = {"fail": args.fail_first}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Status line and body go out in two writes; without TCP_NODELAY the second waits
        # for the client's delayed ACK (tens of milliseconds a request).
        disable_nagle_algorithm = True

        def log_message(self, *_a: Any) -> None:
            return

        def _answer(self, status: int, body: bytes = b"") -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            sig = self.headers.get("X-Cardpilot-Signature", "")
            try:
                fields = dict(part.split("=", 1) for part in sig.split(","))
                mac = hmac.new(secret, fields["t"].encode() + b"." + body, hashlib.sha256)
                good = hmac.compare_digest(mac.hexdigest(), fields["v1"])
            except (ValueError, KeyError):
                good = False
            if not good:
                self._answer(401, b"bad signature")
                return
            with lock:
                if state["fail"] > 0:
                    state["fail"] -= 1
                    self._answer(503, b"try later")
                    return
                key = self.headers.get("Idempotency-Key", "")
                payload = json.loads(body)
                duplicate = key in seen
                seen.add(key)
                entry = {"key": key, "duplicate": duplicate, **payload}
                out.write(json.dumps(entry, ensure_ascii=False) + "\n")
                out.flush()
            if args.delay:
                time.sleep(args.delay)
            self._answer(409 if duplicate else 202, key.encode())

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    sys.stdout.write(f"READY {server.server_address[1]}\n")
    sys.stdout.flush()
    server.serve_forever()
    out.close()


if __name__ == "__main__":
    main()
