"""Starting the loopback peers (SMTP, SMPP, HTTP) as child processes; shared by the tests and
``bench/bench_notify.py``."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

PEERS = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ensure_node_modules() -> str:
    """``npm ci`` into ``tests/notify/peers/node_modules`` once; returns the node binary."""
    node = shutil.which("node")
    npm = shutil.which("npm")
    if node is None or npm is None:
        raise RuntimeError("Node.js (node, npm) is needed for the SMPP test peer")
    # Test workers running side by side (pytest-xdist) install one at a time, the second finding
    # the first's install: the lock is held on the committed lock file itself.
    with (PEERS / "package-lock.json").open("rb") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (PEERS / "node_modules" / "smpp").exists():
            subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=PEERS,
                check=True,
                timeout=300,
            )
    return node


class Peer:
    """A peer process that records what it accepted as JSON lines in ``log``."""

    def __init__(self, kind: str, cmd: list[str], log: Path, port: int | None = None) -> None:
        self.kind = kind
        self.cmd = cmd
        self.log = log
        self.port = port or 0
        self.proc: subprocess.Popen[str] | None = None

    def start(self, timeout: float = 30) -> Peer:
        self.log.touch()
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            self.cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        deadline = time.monotonic() + timeout
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("READY") or time.monotonic() > deadline:
            err = self.proc.stderr.read() if self.proc.stderr else ""
            raise RuntimeError(f"{self.kind} peer did not start: {line!r} {err[-2000:]}")
        self.port = int(line.split()[1])
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def entries(self) -> list[dict[str, Any]]:
        text = self.log.read_text(encoding="utf-8")
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def accepted(self) -> list[dict[str, Any]]:
        return [e for e in self.entries() if not e["duplicate"]]

    def count_lines(self) -> int:
        with open(self.log, "rb") as fh:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))


def smtp_peer(log: Path, port: int | None = None, *extra: str) -> Peer:
    port = port or free_port()
    cmd = [sys.executable, str(PEERS / "smtp_peer.py"), str(port), str(log), *extra]
    return Peer("smtp", cmd, log, port)


def smpp_peer(log: Path, delay_ms: int = 0) -> Peer:
    node = ensure_node_modules()
    cmd = [node, str(PEERS / "smpp_peer.js"), "0", str(log), str(delay_ms)]
    return Peer("smpp", cmd, log)


def http_peer(log: Path, secret: str, *extra: str) -> Peer:
    cmd = [sys.executable, str(PEERS / "http_peer.py"), "0", str(log), secret, *extra]
    return Peer("http", cmd, log)
