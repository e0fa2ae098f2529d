"""``cardpilot events consume`` as a real process, for the kill and SIGTERM tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from cardpilot.stream.broker import Broker

CLI = Path(sys.executable).with_name("cardpilot")


def cli_env(home: Path, broker: Broker) -> dict[str, str]:
    return {
        **os.environ,
        "CARDPILOT_HOME": str(home),
        "CARDPILOT_CONFIG": str(home / "none.toml"),
        "CARDPILOT_NATS_URL": broker.url,
        "CARDPILOT_EVENTS_STREAM": broker.stream,
        "CARDPILOT_EVENTS_SUBJECT": broker.prefix,
        "CARDPILOT_EVENTS_DURABLE": broker.durable,
    }


def start_consumer(
    url: str, home: Path, broker: Broker, *extra: str, batch: int = 50
) -> subprocess.Popen[str]:
    home.mkdir(parents=True, exist_ok=True)
    (home / "none.toml").write_text("", encoding="utf-8")
    args = [str(CLI), "events", "consume", "--database", url, "--batch", str(batch)]
    return subprocess.Popen(
        [*args, "--ack-wait", "1", "--json", *extra],
        env=cli_env(home, broker),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def intake_children(pid: int) -> list[int]:
    """The intake processes (``stream.intake_process``) process ``pid`` started."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue
        if parent == pid and b"cardpilot.stream.intake_process" in cmdline:
            found.append(int(entry.name))
    return found


def gone(pid: int) -> bool:
    """Whether process ``pid`` has ended (a zombie waiting for its reaper counts)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state in ("Z", "X")
