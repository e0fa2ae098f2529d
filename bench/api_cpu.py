"""CPU milliseconds per HTTP service request, in one process: what the service's latency
targets rest on, measured without the load generator or the other workers sharing the cores.

    python bench/api_cpu.py --database URL --model DIR [--requests 300] [--profile FILE]

The service's application is called in process (ASGI, through httpx's ASGI transport: the
routing, the API-key check, the middleware and the JSON are all in the figure) for
``--requests`` random accounts of the store: the decision preview
(``POST /v1/accounts/{id}/decision/preview``) and the account read (``GET /v1/accounts/{id}``).
Prints one JSON object per endpoint: CPU ms per request (process time) and wall ms per request.
``--profile FILE``: a cProfile of the whole run (``python -m pstats FILE``).

``--served``: the same requests, one at a time on one keep-alive connection, to ``cardpilot
serve --workers N`` (uvicorn: its HTTP parser and event loop included, the client not): the CPU
milliseconds per request are the server processes' own (``/proc``), the figure the latency
targets rest on, since the load generator's share of the cores is its own.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("POLARS_MAX_THREADS", "1")  # as cardpilot serve sets it

import httpx


def _accounts(db: Any, n: int, seed: int) -> list[str]:
    from sqlalchemy import text

    with db.connect() as conn:
        top = conn.execute(text("SELECT MAX(rowid) FROM accounts")).scalar_one()
        rng = random.Random(seed)
        out: list[str] = []
        while len(out) < n:
            row = conn.execute(
                text("SELECT account_id FROM accounts WHERE rowid = :r"),
                {"r": rng.randint(1, int(top))},
            ).first()
            if row is not None:
                out.append(str(row[0]))
    return out


async def _run(app: Any, key: str, ids: list[str], method: str, path: str) -> list[int]:
    transport = httpx.ASGITransport(app=app)
    statuses = []
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        for account in ids:
            url = path.format(id=account)
            headers = {"X-API-Key": key}
            reply = await (
                client.post(url, json={}, headers=headers)
                if method == "POST"
                else client.get(url, headers=headers)
            )
            statuses.append(reply.status_code)
    return statuses


PLANS = (
    ("decide", "POST", "/v1/accounts/{id}/decision/preview"),
    ("account", "GET", "/v1/accounts/{id}"),
)


async def _one_by_one(port: int, requests: list[bytes]) -> list[int]:
    from bench_api import Connection  # bench/ is the script's own folder, first on sys.path

    conn = await Connection.open("127.0.0.1", port)
    try:
        return [await conn.request(raw) for raw in requests]
    finally:
        conn.close()


def served(args: argparse.Namespace) -> int:
    """``--served``: see the module's documentation."""
    import socket
    import subprocess

    from bench_api import CLI, _raw, _wait_ready, tree_cpu_seconds
    from cardpilot.policy.permissions import load_permissions
    from cardpilot.service.callers import create_key
    from cardpilot.store.db import make_engine

    db = make_engine(args.database)
    _, key = create_key(db, load_permissions(None), "api-cpu", "admin")
    ids = _accounts(db, args.requests + args.warmup, 24)
    db.dispose()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    server = subprocess.Popen(
        [str(CLI), "serve", "--port", str(port), "--workers", str(args.workers),
         "--database", args.database, "--model", args.model],
    )  # fmt: skip
    try:
        _wait_ready(f"http://127.0.0.1:{port}", server)
        for name, method, path in PLANS:
            if args.only and name != args.only:
                continue
            body = b"{}" if method == "POST" else b""
            raws = [_raw(method, path.format(id=i), key, body) for i in ids]
            asyncio.run(_one_by_one(port, raws[: args.warmup]))
            cpu, wall = tree_cpu_seconds(server.pid), time.perf_counter()
            statuses = asyncio.run(_one_by_one(port, raws[args.warmup :]))
            cpu, wall = tree_cpu_seconds(server.pid) - cpu, time.perf_counter() - wall
            n = len(statuses)
            line = {
                "bench": "api_cpu_served",
                "endpoint": f"{method} {path.replace('{id}', '{account_id}')}",
                "workers": args.workers,
                "requests": n,
                "server_cpu_ms_per_request": round(cpu * 1000 / n, 3),
                "wall_ms_per_request": round(wall * 1000 / n, 2),
                "statuses": {str(s): statuses.count(s) for s in sorted(set(statuses))},
                "loadavg": [round(x, 2) for x in os.getloadavg()],
            }
            print(json.dumps(line), flush=True)
    finally:
        server.terminate()
        server.wait(timeout=60)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--profile", default=None)
    parser.add_argument("--only", choices=("decide", "account"), default=None)
    parser.add_argument("--served", action="store_true", help="Through cardpilot serve.")
    parser.add_argument("--workers", type=int, default=1, help="With --served.")
    args = parser.parse_args(argv)
    if args.served:
        return served(args)

    from cardpilot.config import get_settings
    from cardpilot.service.app import create_app
    from cardpilot.service.callers import create_key
    from cardpilot.service.state import ServiceConfig, ServiceState

    settings = get_settings()
    config = ServiceConfig(database_url=args.database, model=Path(args.model))
    state = ServiceState.load(config, settings)
    app = create_app(config, state)
    state.warmed.wait(600)
    _, key = create_key(state.db, state.matrix, "api-cpu", "admin")
    ids = _accounts(state.db, args.requests + args.warmup, 24)
    profiler = cProfile.Profile() if args.profile else None
    for name, method, path in PLANS:
        if args.only and name != args.only:
            continue
        asyncio.run(_run(app, key, ids[: args.warmup], method, path))
        measured = ids[args.warmup :]
        cpu, wall = time.process_time(), time.perf_counter()
        if profiler:
            profiler.enable()
        statuses = asyncio.run(_run(app, key, measured, method, path))
        if profiler:
            profiler.disable()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        line = {
            "bench": "api_cpu",
            "endpoint": f"{method} {path.replace('{id}', '{account_id}')}",
            "requests": len(measured),
            "cpu_ms_per_request": round(cpu * 1000 / len(measured), 2),
            "wall_ms_per_request": round(wall * 1000 / len(measured), 2),
            "statuses": {str(s): statuses.count(s) for s in sorted(set(statuses))},
            "loadavg": [round(x, 2) for x in os.getloadavg()],
        }
        print(json.dumps(line), flush=True)
    if profiler:
        profiler.dump_stats(args.profile)
    state.db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
