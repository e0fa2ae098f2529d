"""Faults during an import: killed at random moments, two imports at once, a store held busy.

An import is one transaction on both stores: killed at any moment it leaves the store as it
was, the next import marks the killed run interrupted and completes. SQLite's write lock is
waited for up to ``--lock-timeout`` seconds, then the import ends with a one-line error.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from cardpilot.cli.output import envelope_data
from cardpilot.ingest.uci import COLUMNS
from cardpilot.store.db import make_engine, open_store

ACCOUNTS = 17_000  # 102,000 statements: a first import takes the one-bulk-load path
KILLS = 5
DATA_TABLES = (
    "ledger_postings",
    "limit_history",
    "performance_labels",
    "statements",
    "accounts",
    "customers",
)
CARDPILOT = str(Path(sys.executable).parent / "cardpilot")


@pytest.fixture(scope="module")
def uci_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("uci") / "uci.csv"
    rest = "20000,2,2,1,24,2,2,-1,-1,-2,-2,3913,3102,689,0,0,0,0,689,0,0,0,0,1"
    rows = "".join(f"{i},{rest}\n" for i in range(1, ACCOUNTS + 1))
    path.write_text(",".join(COLUMNS) + "\n" + rows, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def generic_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from cardpilot.synth.generate import GenerateOptions, generate_portfolio

    out = tmp_path_factory.mktemp("generic") / "portfolio"
    generate_portfolio(
        GenerateOptions(
            accounts=ACCOUNTS,
            out=out,
            seed=7,
            months=6,
            transactions=False,
            end_cycle=dt.date(2025, 9, 30),
        )
    )
    return out


def _import(source: Path, layout: str, url: str, home: Path, *extra: str) -> list[str]:
    return [CARDPILOT, "import", str(source), "--format", layout, "--database", url, *extra]


def _env(home: Path) -> dict[str, str]:
    # A wide terminal: the console wraps piped output at 80 columns otherwise.
    return {
        **os.environ,
        "CARDPILOT_HOME": str(home),
        "CARDPILOT_LOCALE": "en",  # the errors checked here are the English wording
        "RUST_BACKTRACE": "0",
        "COLUMNS": "1000",
    }


def _counts(url: str) -> dict[str, int]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return {
                t: int(connection.execute(text(f"SELECT count(*) FROM {t}")).scalar_one())
                for t in DATA_TABLES
            }
    finally:
        engine.dispose()


def _runs(url: str) -> list[str]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT status FROM import_runs ORDER BY id")).all()
        return [str(r[0]) for r in rows]
    finally:
        engine.dispose()


def _wipe(url: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            for table in (*DATA_TABLES, "import_runs"):
                connection.execute(text(f"DELETE FROM {table}"))
    finally:
        engine.dispose()


def _integrity(url: str) -> None:
    if url.startswith("sqlite"):
        engine = make_engine(url)
        try:
            with engine.connect() as connection:
                assert connection.exec_driver_sql("PRAGMA integrity_check").scalar_one() == "ok"
        finally:
            engine.dispose()


@pytest.fixture(scope="module")
def whole_imports(
    uci_file: Path, generic_folder: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[float, dict[str, int]]]:
    """How long one whole import of each layout takes here and now (a SQLite store), and the
    rows it leaves: a run killed after its commit, on its way out, leaves exactly these."""
    whole = {}
    for layout, source in (("uci", uci_file), ("generic", generic_folder)):
        folder = tmp_path_factory.mktemp(f"timing-{layout}")
        url = f"sqlite:///{folder / 'store.db'}"
        command = _import(source, layout, url, folder, "--json")
        started = time.perf_counter()
        subprocess.run(command, env=_env(folder), check=True, capture_output=True, timeout=600)
        whole[layout] = (time.perf_counter() - started, _counts(url))
    return whole


@pytest.mark.parametrize("layout", ["uci", "generic"])
def test_a_first_import_killed_at_five_random_moments_leaves_the_store_empty_and_reruns(
    store_url: str,
    tmp_path: Path,
    layout: str,
    uci_file: Path,
    generic_folder: Path,
    whole_imports: dict[str, tuple[float, dict[str, int]]],
) -> None:
    source = uci_file if layout == "uci" else generic_folder
    home = tmp_path / "home"
    command = _import(source, layout, store_url, home, "--json")
    open_store(store_url).dispose()
    whole, rows = whole_imports[layout]
    rng = random.Random(f"{layout}-{store_url[:5]}")
    killed = 0
    while killed < KILLS:
        moment = rng.uniform(0.05, 0.8) * whole
        process = subprocess.Popen(
            command, env=_env(home), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(moment)
        if process.poll() is not None:  # finished before its moment (the machine sped up)
            _wipe(store_url)
            continue
        process.send_signal(signal.SIGKILL)
        code = process.wait(timeout=60)
        if code == 0:  # it finished between the poll and the signal
            _wipe(store_url)
            continue
        assert code == -signal.SIGKILL
        _integrity(store_url)
        counts = _counts(store_url)
        if counts == rows:  # killed after its commit, on its way out: all of it
            _wipe(store_url)
            continue
        assert counts == dict.fromkeys(DATA_TABLES, 0), f"killed at {moment:.2f} s: {counts}"
        killed += 1

    done = subprocess.run(command, env=_env(home), check=True, capture_output=True, timeout=600)

    result = envelope_data(done.stdout)
    assert (result["accounts"], result["statements"]) == (ACCOUNTS, 6 * ACCOUNTS)
    assert result["rejected"] == 0
    runs = _runs(store_url)
    assert runs[-1] == "finished"
    assert set(runs[:-1]) <= {"interrupted"}  # every killed run that had started its record
    # Each run marks the one killed before it; the last killed one is marked by the rerun.
    assert len(result["interrupted_runs"]) <= 1


def test_an_import_waits_for_a_busy_store_then_ends_in_one_line(
    tmp_path: Path, uci_file: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    open_store(url).dispose()
    holder = sqlite3.connect(tmp_path / "store.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process's write lock, held throughout
    try:
        started = time.perf_counter()
        done = subprocess.run(
            _import(uci_file, "uci", url, tmp_path / "home", "--lock-timeout", "1"),
            env=_env(tmp_path / "home"),
            capture_output=True,
            timeout=300,
        )
        waited = time.perf_counter() - started
    finally:
        holder.execute("ROLLBACK")
        holder.close()

    assert done.returncode == 2
    lines = done.stderr.decode().strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("error:")
    assert "busy" in lines[0]
    assert "--lock-timeout" in lines[0]
    assert waited < 120
    assert _counts(url) == dict.fromkeys(DATA_TABLES, 0)
    assert _runs(url) in ([], ["failed"])


@pytest.mark.slow
def test_two_first_imports_at_once_on_sqlite_load_once_and_the_loser_says_so_in_one_line(
    tmp_path: Path, uci_file: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    home = tmp_path / "home"
    command = _import(uci_file, "uci", url, home, "--lock-timeout", "1", "--json")
    processes = [
        subprocess.Popen(command, env=_env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    outcomes = [(p.wait(timeout=600), p.stdout, p.stderr) for p in processes]

    added = 0
    for code, out, err in outcomes:
        assert out is not None
        assert err is not None
        if code == 0:
            added += envelope_data(out.read())["accounts"]
        else:
            lines = err.read().decode().strip().splitlines()
            assert len(lines) == 1, lines
            assert lines[0].startswith("error:")
            assert "busy" in lines[0]
    assert added == ACCOUNTS
    assert _counts(url)["accounts"] == ACCOUNTS
