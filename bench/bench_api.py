"""HTTP service benchmark (``make bench-api``): one-account decisions and account reads under a
steady request rate, against ``cardpilot serve`` with a 1M-account store.

    python bench/bench_api.py [--accounts 1000000] [--workers 2] [--seconds 30]
                              [--decide-rate 300] [--read-rate 500] [--model DIR]

1. The store is the review benchmark's cached one (a synthetic portfolio of ``--accounts``
   accounts with 6 statements each, imported into SQLite under ``bench/.cache/``; made when
   absent), copied for the run; the model the review benchmark trains (or ``--model``).
2. ``cardpilot serve --workers N`` on loopback, an API key made by ``cardpilot keys create``
   (role admin: one key both reads and decides).
3. An open-loop load generator (asyncio, HTTP/1.1 keep-alive on a pool of connections): the
   requests are sent at a fixed rate whatever the server's latency, each to a random account,
   and a request's latency runs from when it was due to be sent (a slow server cannot slow
   the generator down and hide its own delay). The decision measured is the dry run
   (``POST /v1/accounts/{id}/decision/preview``: read, features, score, decide, reasons),
   the read is ``GET /v1/accounts/{id}`` (the account's whole story).

Prints one JSON object per endpoint (bench, endpoint, rate_rps, requests, p50_ms, p99_ms,
errors, and the machine's load beside them) and writes them to ``bench/results/api.json``.
Beside the latencies, which a busy shared machine moves, each line has the CPU milliseconds
per request of the server's processes (``server_cpu_ms_per_request``, the supervisor and its
workers, read from ``/proc``) and of the generator itself (``generator_cpu_ms_per_request``):
both share the cores, and neither moves with the machine's other load.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from machine import speed_probe  # bench/ is the script's own folder, first on sys.path
from portfolio import CACHE, bench_model, portfolio, sqlite_store

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "api.json"
CLI = Path(sys.executable).with_name("cardpilot")
TARGETS_MS = {"decide": 25.0, "account": 15.0}
WARMUP_SECONDS = 3.0
MAX_CONNECTIONS = 256
DRAIN_SECONDS = 20.0


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)  # of every answered request
    errors: int = 0  # not answered, or not 2xx
    failed: int = 0  # not answered (the connection failed, or not within DRAIN_SECONDS)
    unanswered: int = 0  # of those, still waiting DRAIN_SECONDS after the last send
    statuses: dict[int, int] = field(default_factory=dict)


class Connection:
    """One HTTP/1.1 keep-alive connection: a request out, its response read whole."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def request(self, raw: bytes) -> int:
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        self.writer.close()


def _raw(method: str, path: str, key: str, body: bytes = b"") -> bytes:
    lines = [
        f"{method} {path} HTTP/1.1",
        "Host: 127.0.0.1",
        f"X-API-Key: {key}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        "",
        "",
    ]
    return "\r\n".join(lines).encode("ascii") + body


async def open_loop(port: int, requests: list[bytes], rate: float, warmup: int) -> Tally:
    """Send ``requests`` at ``rate`` per second; the first ``warmup`` are not counted. At
    most ``MAX_CONNECTIONS`` are open: a request due while all are busy waits for one, and its
    wait counts in its latency (it was due when it was due)."""
    idle: asyncio.Queue[Connection] = asyncio.Queue()
    opened = 0
    tally = Tally()
    start = time.perf_counter() + 0.2

    async def connection() -> Connection:
        nonlocal opened
        if idle.empty() and opened < MAX_CONNECTIONS:
            opened += 1
            return await Connection.open("127.0.0.1", port)
        return await idle.get()

    async def one(i: int, raw: bytes, due: float) -> None:
        nonlocal opened
        conn = await connection()
        try:
            status = await conn.request(raw)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            conn.close()
            opened -= 1
            if i >= warmup:
                tally.errors += 1
                tally.failed += 1
            return
        idle.put_nowait(conn)
        if i < warmup:
            return
        tally.latencies.append((time.perf_counter() - due) * 1000)
        tally.statuses[status] = tally.statuses.get(status, 0) + 1
        if not 200 <= status < 300:
            tally.errors += 1

    tasks = []
    for i, raw in enumerate(requests):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, raw, due)))
    # A server that cannot keep up would take far longer than the run to answer the backlog:
    # what is not answered within DRAIN_SECONDS of the last send counts as an error.
    _, late = await asyncio.wait(tasks, timeout=DRAIN_SECONDS)
    for task in late:
        task.cancel()
    tally.errors += len(late)
    tally.failed += len(late)
    tally.unanswered = len(late)
    while not idle.empty():
        idle.get_nowait().close()
    return tally


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2) if ordered else 0.0


def _account_ids(portfolio: Path, n: int, seed: int) -> list[str]:
    ids = pl.scan_parquet(portfolio / "accounts" / "*.parquet").select("account_id").collect()
    return ids.sample(n, with_replacement=True, seed=seed)["account_id"].to_list()


def _wait_ready(base: str, process: subprocess.Popen[bytes]) -> None:
    import httpx

    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"cardpilot serve exited with {process.returncode}")
        try:
            if httpx.get(f"{base}/ready", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise SystemExit("cardpilot serve did not become ready")


def _loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` and of its children (Linux ``/proc``)."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if int(entry.name) == pid or int(fields[1]) == pid:  # fields[1]: the parent's id
            total += int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
    return total / os.sysconf("SC_CLK_TCK")


def _event_loop_run(coroutine: Any) -> Any:
    """uvloop where installed (uvicorn's standard extra brings it): the generator shares the
    server's cores, and uvloop's streams cost it a fraction of asyncio's own."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


def _run(
    name: str, endpoint: str, server: int, requests: list[bytes], rate: float, args: Any
) -> dict[str, Any]:
    warmup = int(WARMUP_SECONDS * rate)
    load_before = _loadavg()
    started = time.perf_counter()
    own, served = time.process_time(), tree_cpu_seconds(server)
    tally = _event_loop_run(open_loop(args.port, requests, rate, warmup))
    own, served = time.process_time() - own, tree_cpu_seconds(server) - served
    seconds = time.perf_counter() - started
    p99 = _quantile(tally.latencies, 0.99)
    return {
        "bench": "api",
        "endpoint": endpoint,
        "rate_rps": rate,
        "requests": len(tally.latencies) + tally.failed,
        "p50_ms": _quantile(tally.latencies, 0.50),
        "p99_ms": p99,
        "max_ms": round(max(tally.latencies, default=0.0), 2),
        "errors": tally.errors,
        "unanswered": tally.unanswered,
        "statuses": {str(k): v for k, v in sorted(tally.statuses.items())},
        "achieved_rps": round(len(requests) / seconds, 1),
        # Warm-up requests included: they cost the same.
        "server_cpu_ms_per_request": round(served * 1000 / len(requests), 3),
        "generator_cpu_ms_per_request": round(own * 1000 / len(requests), 3),
        "target_p99_ms": TARGETS_MS[name],
        "meets_target": p99 <= TARGETS_MS[name] and tally.errors == 0,
        "accounts": args.accounts,
        "workers": args.workers,
        "cores": os.cpu_count(),
        "loadavg_before": load_before,
        "loadavg_after": _loadavg(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--decide-rate", type=float, default=300.0)
    parser.add_argument("--read-rate", type=float, default=500.0)
    parser.add_argument("--model", default=None)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument(
        "--cache", default=str(CACHE), help="Folder of the cached portfolio, store and model."
    )
    args = parser.parse_args(argv)

    cache = Path(args.cache)
    folder = portfolio(args.accounts, cache)
    cached = sqlite_store(args.accounts, folder, cache)
    model = bench_model(args.model, cache)
    work = Path(tempfile.mkdtemp(prefix="bench-api-", dir=cache))
    lines: list[dict[str, Any]] = []
    try:
        store = work / "store.db"
        shutil.copy(cached, store)
        url = f"sqlite:///{store}"
        env = {**os.environ, "CARDPILOT_HOME": str(cached.parent / "home")}
        made = subprocess.run(
            [str(CLI), "keys", "create", "bench", "--role", "admin", "--database", url, "--json"],
            check=True, capture_output=True, env=env,
        )  # fmt: skip
        key = json.loads(made.stdout)["data"]["key"]  # the --json envelope
        server = subprocess.Popen(
            [str(CLI), "serve", "--port", str(args.port), "--workers", str(args.workers),
             "--database", url, "--model", model],
            env=env,
        )  # fmt: skip
        try:
            _wait_ready(f"http://127.0.0.1:{args.port}", server)
            probe = speed_probe()
            rng = random.Random(24)
            plans = (
                ("decide", "POST /v1/accounts/{id}/decision/preview", args.decide_rate),
                ("account", "GET /v1/accounts/{id}", args.read_rate),
            )
            for name, endpoint, rate in plans:
                n = int((args.seconds + WARMUP_SECONDS) * rate)
                ids = _account_ids(folder, n, rng.randrange(2**31))
                method, template = endpoint.split(" ")
                body = b"{}" if method == "POST" else b""
                requests = [_raw(method, template.format(id=i), key, body) for i in ids]
                line = _run(name, endpoint, server.pid, requests, rate, args)
                line["speed_probe_cpu_s"] = probe
                print(json.dumps(line), flush=True)
                lines.append(line)
        finally:
            server.terminate()
            server.wait(timeout=60)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(lines, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
