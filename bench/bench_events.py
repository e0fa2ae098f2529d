"""Event intake benchmark (``make bench-events``): broker → consumer → ledger, end to end.

    python bench/bench_events.py [--events 200000] [--accounts 10000] [--stores sqlite,postgresql]

For each store (a fresh SQLite file; a fresh PostgreSQL database on loopback) two runs, each on
a stream of its own on the NATS JetStream server on loopback:

* ``events-throughput``: a synthetic month of ``--events`` events (``events.synthetic``) is
  published by ``cardpilot events publish`` in its own process as fast as the broker takes it,
  while the consumer (this process, its store side in a child process of its own as
  ``cardpilot events consume`` runs it; ``--in-process``: on a thread of this one) drains it:
  parsed, ordered, ledger postings, receipts and features written, the early-warning rules
  evaluated on every event, one transaction a batch, acknowledged. The clock runs from the
  first event the stream stored to the last batch's commit.
* ``events-latency``: the same at a steady ``--rate`` (5,000 events/s) for ``--latency-events``
  events; the latency of an event is from the moment the stream stored it to the commit of its
  batch (the transaction the triggers' outbox rows are written in).

Prints one JSON object per run: ``bench, store, events, seconds, events_per_s,
p99_event_to_outbox_ms, peak_mb`` (targets on 2 cores: ≥ 20,000 events/s; p99 ≤ 1,000 ms at
5,000 events/s), and writes them to ``bench/results/events.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from cardpilot.cli.output import envelope_data
from cardpilot.events.policy import load_events_policy
from cardpilot.events.synthetic import Faults, synthetic_month, with_faults
from cardpilot.stream.batch_intake import BatchDone
from cardpilot.stream.broker import Broker, connect
from cardpilot.stream.consumer import ConsumeOptions, consume
from cardpilot.warning.policy import load_warning_policy
from event_stores import account_store, create_pg_database, drop_pg_database

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "events.json"
CLI = Path(sys.executable).with_name("cardpilot")
TARGET_EVENTS_PER_S = 20_000
TARGET_P99_MS = 1_000
TZ = ZoneInfo("Asia/Shanghai")


def _accounts(n: int) -> list[str]:
    return [f"B{i:07d}" for i in range(1, n + 1)]


def _write_events(path: Path, accounts: list[str], events: int) -> int:
    per_account = max(2, events // len(accounts))
    month = synthetic_month(accounts, events_per_account=per_account, seed=3)
    lines = with_faults(month, Faults(duplicates=0.01, swaps=0.02, held_back=5, malformed=3))
    path.write_bytes(b"\n".join(lines) + b"\n")
    return len(lines)


def _broker(tag: str) -> Broker:
    unique = uuid.uuid4().hex[:8]
    return Broker(
        url=os.environ.get("CARDPILOT_NATS_URL", "nats://127.0.0.1:4222"),
        stream=f"BENCH_{tag}_{unique}".upper(),
        prefix=f"bench.{tag}.{unique}",
        durable=f"bench-{unique}",
    )


async def _delete(broker: Broker) -> None:
    nc, js = await connect(broker)
    try:
        for name in (broker.stream, broker.dead_stream):
            with contextlib.suppress(Exception):  # not made
                await js.delete_stream(name)
    finally:
        await nc.close()


def _publisher(path: Path, broker: Broker, rate: float, home: Path) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "CARDPILOT_HOME": str(home),
        "CARDPILOT_NATS_URL": broker.url,
        "CARDPILOT_EVENTS_STREAM": broker.stream,
        "CARDPILOT_EVENTS_SUBJECT": broker.prefix,
    }
    args = [str(CLI), "events", "publish", str(path), "--rate", str(rate), "--json"]
    return subprocess.Popen(
        args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


async def _ensure(broker: Broker) -> None:
    from cardpilot.stream.broker import ensure_streams

    nc, js = await connect(broker)
    try:
        await ensure_streams(js, broker)
    finally:
        await nc.close()


def _run(
    engine: Engine,
    path: Path,
    lines: int,
    broker: Broker,
    rate: float,
    batch: int,
    home: Path,
    pg_name: str | None = None,
    max_batch: int | None = None,
    in_process: bool = False,
) -> dict[str, Any]:
    latencies: list[float] = []
    first_stored, last_commit = [float("inf")], [0.0]

    asyncio.run(_ensure(broker))
    options = ConsumeOptions(
        batch=batch,
        max_batch=max_batch,
        ack_wait_s=30,
        fetch_timeout_s=0.2,
        stored_times=True,
        intake_process=not in_process,
    )
    consumed = [0]
    # The database's backends as of the last batch: the intake's process closes its own
    # connections (and they end) before the run is over.
    pg_backends: list[int] = []
    pg_last: dict[int, float] = {}
    # The intake's process (looked for once: the look reads every process's command line)
    # and its peak memory, MB, as of the last batch.
    intake_pids: list[int] = []
    intake_peak = [0.0]

    def on_batch(done: BatchDone) -> None:
        if options.intake_process:
            if not intake_pids:
                intake_pids.extend(_own_children(INTAKE))
            intake_peak[0] = max([intake_peak[0], *map(_peak_rss_mb, intake_pids)])
        if pg_name:
            if not pg_backends:
                pg_backends.extend(_pids(pg_name))
            pg_last.update((pid, cpu) for pid in pg_backends if (cpu := _proc_cpu(pid)))
        committed = done.committed_at.timestamp()
        last_commit[0] = committed
        consumed[0] += len(done.outcomes)
        stored = done.stored_at
        first_stored[0] = min(first_stored[0], *stored)
        latencies.extend(committed - at for at in stored)

    async def drain() -> Any:
        stop = asyncio.Event()
        task = asyncio.create_task(
            consume(
                engine,
                broker,
                load_events_policy(),
                TZ,
                options,
                stop,
                on_batch,
                load_warning_policy(),
            )
        )
        # Stop once every line is consumed, or the publisher is done and nothing came for 5 s.
        quiet_since = time.perf_counter()
        seen = 0
        while not task.done():
            await asyncio.sleep(0.1)
            if consumed[0] != seen:
                seen, quiet_since = consumed[0], time.perf_counter()
            finished = publisher_ended()
            if consumed[0] >= lines or (finished and time.perf_counter() - quiet_since > 5):
                stop.set()
        return await task

    publisher_cpu = [0.0]

    def publisher_ended() -> bool:
        """Whether the publisher has exited (reaped here, with its own CPU time: the intake's
        process is a child of this one too, so the children's total would count it)."""
        if publisher.returncode is not None:
            return True
        pid, status, usage = os.wait4(publisher.pid, os.WNOHANG)
        if pid == 0:
            return False
        publisher.returncode = os.waitstatus_to_exitcode(status)
        publisher_cpu[0] = usage.ru_utime + usage.ru_stime
        return True

    nats_cpu = _server_cpu("nats-server")
    pg_cpu = _server_cpu(pg_name)
    consumer_cpu = time.process_time()
    publisher = _publisher(path, broker, rate, home)
    counts = asyncio.run(drain())
    # The backends end with the engine's connections: read before that.
    pg_spent = _spent(pg_cpu, {**pg_last, **_server_cpu(pg_name)})
    assert publisher.stdout is not None
    assert publisher.stderr is not None
    out, err = publisher.stdout.read(), publisher.stderr.read()  # to its end: it has exited
    while not publisher_ended():
        time.sleep(0.01)
    consumer_cpu = time.process_time() - consumer_cpu
    nats_spent = _spent(nats_cpu, _server_cpu("nats-server"))
    if publisher.returncode != 0:
        raise SystemExit(f"events publish failed: {err[-2000:]}")
    published = envelope_data(out)
    # From the first event the stream stored to the commit of the last batch.
    seconds = last_commit[0] - first_stored[0]
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else None
    return {
        "events": counts.messages,
        "published": published.get("published"),
        "lines": lines,
        "applied": counts.applied,
        "duplicates": counts.duplicates,
        "dead": counts.dead,
        "seconds": round(seconds, 3),
        "events_per_s": round(counts.messages / seconds) if seconds > 0 else None,
        "p99_event_to_outbox_ms": None if p99 is None else round(p99 * 1000, 1),
        "triggers_fired": counts.triggers_fired,
        "batch": batch,
        "max_batch": max_batch,
        "batches": counts.batches,
        # CPU time (meaningful on a loaded machine, unlike the wall-clock figures): this
        # process (the consumer: its event loop, and its store side unless that has a process
        # of its own), the intake's process (with SQLite in it; 0 with --in-process), both,
        # and the publisher's, per event.
        "consumer_cpu_us_per_event": round(consumer_cpu / max(counts.messages, 1) * 1e6, 1),
        "intake_process_cpu_us_per_event": round(
            counts.intake_cpu_s / max(counts.messages, 1) * 1e6, 1
        ),
        "consumer_total_cpu_us_per_event": round(
            (consumer_cpu + counts.intake_cpu_s) / max(counts.messages, 1) * 1e6, 1
        ),
        "publisher_cpu_us_per_event": round(publisher_cpu[0] / max(lines, 1) * 1e6, 1),
        # The NATS server's (all its clients': other work on the machine shows here too) and
        # the PostgreSQL backends' of the bench's database.
        "nats_server_cpu_us_per_event": round(nats_spent / max(lines, 1) * 1e6, 1),
        "postgres_cpu_us_per_event": round(pg_spent / max(counts.messages, 1) * 1e6, 1),
        # Wall time of the consumer's loop waiting for batches against deciding them.
        "consumer_loop_cpu_us_per_event": round(
            counts.loop_cpu_s / max(counts.messages, 1) * 1e6, 1
        ),
        "consumer_waiting_s": round(counts.waiting_s, 3),
        "consumer_processing_s": round(counts.processing_s, 3),
        # Of which the intake's stages (they overlap): parse, look up, plan; write, commit.
        "consumer_planning_s": round(counts.planning_s, 3),
        "consumer_writing_s": round(counts.writing_s, 3),
        "intake_process": not in_process,
        # Peak memory of this process and of the intake's (``peak_mb``: the larger of this
        # process and any child's, the publisher's too).
        "consumer_peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "intake_process_peak_mb": intake_peak[0],
        # The machine's load while it ran (other work on a shared machine shows here).
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
INTAKE = "cardpilot.stream.intake_process"  # in the intake process's command line


def _proc_cpu(pid: int) -> float:
    """CPU seconds (user and system) of process ``pid`` so far; 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _pids(wanted: str) -> list[int]:
    """Processes whose command line holds ``wanted`` (the NATS server; a database's backends)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if wanted.encode() in cmdline:
            found.append(int(entry.name))
    return found


def _own_children(wanted: str) -> list[int]:
    """This process's children whose command line holds ``wanted``."""
    mine = []
    for pid in _pids(wanted):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(stat[1]) == os.getpid():
            mine.append(pid)
    return mine


def _peak_rss_mb(pid: int) -> float:
    """The peak resident memory (VmHWM) of process ``pid`` so far, MB; 0 if it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    kb = next((line.split()[1] for line in status.splitlines() if line.startswith("VmHWM")), 0)
    return round(int(kb) / 1024, 1)


def _server_cpu(wanted: str | None) -> dict[int, float]:
    return {pid: _proc_cpu(pid) for pid in _pids(wanted)} if wanted else {}


def _spent(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds spent between two readings (a process new since the first: all of it)."""
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


def _peak_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round(max(own, children) / 1024, 1)


def _store(kind: str, folder: Path) -> tuple[str, str | None]:
    if kind == "sqlite":
        return f"sqlite:///{folder / f'events-{uuid.uuid4().hex[:6]}.db'}", None
    return create_pg_database("bench_events")


def bench_store(kind: str, args: argparse.Namespace, folder: Path) -> list[dict[str, Any]]:
    accounts = _accounts(args.accounts)
    big = folder / "month.jsonl"
    steady = folder / "steady.jsonl"
    if not big.exists():
        # In a process of its own, so the peak memory measured is the consumer's.
        for path, count in ((big, args.events), (steady, args.latency_events)):
            subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--write",
                    str(path),
                    "--events",
                    str(count),
                    "--accounts",
                    str(args.accounts),
                ],
                check=True,
            )
    out = []
    for bench, path, rate in (
        ("events-throughput", big, 0.0),
        ("events-latency", steady, args.rate),
    ):
        url, pg_name = _store(kind, folder)
        engine = account_store(url, accounts)
        broker = _broker(kind)
        lines = sum(1 for _ in path.open("rb"))
        try:
            result = _run(
                engine,
                path,
                lines,
                broker,
                rate,
                args.batch,
                folder,
                pg_name,
                args.max_batch,
                args.in_process,
            )
        finally:
            engine.dispose()
            asyncio.run(_delete(broker))
            if pg_name:
                drop_pg_database(pg_name)
        result = {"bench": bench, "store": kind, **result, "peak_mb": _peak_mb()}
        if rate:
            result["rate"] = rate
            result["target_p99_ms"] = TARGET_P99_MS
        else:
            result["target_events_per_s"] = TARGET_EVENTS_PER_S
        result["at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        print(json.dumps(result), flush=True)
        out.append(result)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--latency-events", type=int, default=50_000)
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=5_000.0)
    parser.add_argument("--batch", type=int, default=2_000)
    parser.add_argument("--max-batch", type=int, default=10_000)
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="the consumer's store side on a thread of its process, not a process of its own",
    )
    parser.add_argument("--write", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write:
        _write_events(args.write, _accounts(args.accounts), args.events)
        return
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-events-") as tmp:
        for kind in args.stores.split(","):
            results.extend(bench_store(kind, args, Path(tmp)))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
