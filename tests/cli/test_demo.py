"""The main job end to end, on a small synthetic portfolio, through the real command."""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from cardpilot.cli import app
from cardpilot.config import get_settings


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CARDPILOT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CARDPILOT_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    yield tmp_path / "home"
    get_settings.cache_clear()


def test_demo_loads_a_generated_portfolio_and_summarises_it(home: Path) -> None:
    result = CliRunner().invoke(app, ["demo", "--accounts", "300", "--seed", "7"])
    assert result.exit_code == 0, result.output
    assert "Portfolio: 300 accounts" in result.output
    assert "和谐还款" in result.output
    assert (home / "overdue-report.html").exists()
    store = f"sqlite:///{(home / 'demo.db').resolve()}"
    summary = CliRunner().invoke(app, ["summary", "--json", "--database", store])
    assert summary.exit_code == 0, summary.output
    envelope = json.loads(summary.stdout)
    assert envelope["command"] == "summary"
    figures = envelope["data"]
    assert figures["accounts"] == 300
    assert figures["statements"] == 300 * 12
    bands = figures["by_currency"][0]["days_past_due"]
    assert sum(b["accounts"] for b in bands.values()) == 300


def test_demo_rebuilds_its_own_store_so_runs_never_mix(home: Path) -> None:
    for seed in (7, 8):
        result = CliRunner().invoke(app, ["demo", "--accounts", "150", "--seed", str(seed)])
        assert result.exit_code == 0, result.output
    store = f"sqlite:///{(home / 'demo.db').resolve()}"
    summary = CliRunner().invoke(app, ["summary", "--json", "--database", store])
    assert json.loads(summary.stdout)["data"]["accounts"] == 150


def test_store_and_logs_hold_no_plaintext_personal_data(
    home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        result = CliRunner().invoke(app, ["demo", "--accounts", "200", "--seed", "11"])
    assert result.exit_code == 0, result.output
    customers = pl.read_parquet(home / "demo-portfolio" / "customers")
    secrets = [
        value
        for column in ("name", "national_id", "phone", "email")
        for value in customers[column].drop_nulls().to_list()
    ]
    assert len(secrets) > 400
    # The whole database file, WAL included, as raw bytes, and an SQL dump of every table.
    db = home / "demo.db"
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(FULL)")
        dump = "\n".join(conn.iterdump())
    raw = b"".join(p.read_bytes() for p in home.glob("demo.db*"))
    logs = caplog.text + result.output
    # Names are short (张伟): only full names of three characters or more are distinctive enough
    # to search for in a binary file without false matches.
    for value in secrets:
        if len(value) < 3:
            continue
        assert value not in dump
        assert value.encode() not in raw
        assert value not in logs
