"""``cardpilot events publish`` (JSON lines, Parquet) and ``events consume`` (SIGTERM-clean),
with their ``--json`` counts."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import polars as pl

from cardpilot.cli.output import envelope_data
from cardpilot.store.events import receipt_counts
from cardpilot.stream.broker import Broker

from ..factories import raw
from .helpers import account_ids, make_store, publish
from .processes import CLI, cli_env, start_consumer


def _publish_cli(path: Path, home: Path, broker: Broker) -> dict[str, object]:
    home.mkdir(exist_ok=True)
    (home / "none.toml").write_text("", encoding="utf-8")
    done = subprocess.run(
        [str(CLI), "events", "publish", str(path), "--json"],
        env=cli_env(home, broker),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return envelope_data(done.stdout)  # type: ignore[no-any-return]


def test_publish_json_lines_prints_its_counts(broker: Broker, tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    events = [json.dumps(raw("purchase", n)) for n in range(1, 6)]
    path.write_text("\n".join([*events, ""]) + "\n", encoding="utf-8")
    counts = _publish_cli(path, tmp_path / "home", broker)
    assert (counts["published"], counts["skipped_blank"]) == (5, 1)


def test_publish_parquet_then_consume_applies_every_row(broker: Broker, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    engine = make_store(url, ["A1"])
    rows = [raw("statement_issued", 1), raw("purchase", 2), raw("payment", 3)]
    path = tmp_path / "events.parquet"
    pl.DataFrame(rows, infer_schema_length=None).write_parquet(path)
    assert _publish_cli(path, tmp_path / "home", broker)["published"] == 3
    proc = start_consumer(url, tmp_path / "home", broker, "--idle-exit", "2")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    counts = envelope_data(out)
    assert (counts["messages"], counts["applied"], counts["dead"]) == (3, 3, 0)
    engine.dispose()


def test_sigterm_finishes_the_batch_acknowledges_and_exits_zero(
    broker: Broker, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    accounts = account_ids(20)
    engine = make_store(url, accounts)
    publish(broker, [json.dumps(raw("purchase", 1, account=a)).encode() for a in accounts])
    proc = start_consumer(url, tmp_path / "home", broker, batch=5)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            if receipt_counts(conn).get("applied", 0) >= 5:
                break
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    counts = envelope_data(out)
    with engine.connect() as conn:
        stored = receipt_counts(conn)["applied"]
    # Every message it took was finished: written and counted, none left half-done.
    assert counts["applied"] == stored
    assert counts["messages"] >= 5
    engine.dispose()


def test_consume_takes_a_backlog_in_batches_up_to_max_batch(broker: Broker, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    accounts = account_ids(30)
    engine = make_store(url, accounts)
    publish(broker, [json.dumps(raw("purchase", 1, account=a)).encode() for a in accounts])
    proc = start_consumer(
        url, tmp_path / "home", broker, "--max-batch", "20", "--idle-exit", "2", batch=5
    )
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    counts = envelope_data(out)
    assert (counts["messages"], counts["applied"]) == (30, 30)
    assert counts["batches"] <= 3  # 20 and 10 with the backlog there, not six of 5
    engine.dispose()
