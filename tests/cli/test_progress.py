"""Progress on stderr: stages with counts, erased on error; piped output is never wrapped."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

import cardpilot.cli.output as output
from cardpilot.cli import app
from cardpilot.cli.output import envelope_data
from cardpilot.cli.progress import StageBar, bar
from cardpilot.config import get_settings
from cardpilot.domain import progress

ERASE_LINE = "\x1b[2K"


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CARDPILOT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CARDPILOT_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    yield tmp_path / "home"
    get_settings.cache_clear()


def _terminal() -> tuple[Console, io.StringIO]:
    screen = io.StringIO()
    return Console(file=screen, force_terminal=True, width=80), screen


def test_a_command_that_fails_erases_its_progress_before_the_error_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import cardpilot.cli.summary as summary

    terminal, screen = _terminal()

    def failing(_engine: object) -> None:
        progress.stage("counting accounts", 10)
        progress.advance(3)
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(output, "err_console", terminal)
    monkeypatch.setattr(summary, "open_engine", lambda _db: None)
    monkeypatch.setattr(summary, "summarise_portfolio", failing)
    result = CliRunner().invoke(app, ["summary"])
    assert result.exit_code == 1
    drawn = screen.getvalue()
    assert "counting accounts" in drawn  # the bar was on screen
    after_erasing = drawn.rsplit(ERASE_LINE, 1)[1]
    assert "counting accounts" not in after_erasing
    assert "error:" in after_erasing


def test_a_command_bar_left_by_an_error_is_erased() -> None:
    terminal, screen = _terminal()

    def review() -> None:
        with bar(terminal) as bars:
            bars.add_task("review", total=100, completed=40)
            bars.refresh()
            raise RuntimeError("the store went away")

    with pytest.raises(RuntimeError):
        review()
    drawn = screen.getvalue()
    assert "review" in drawn
    assert "review" not in drawn.rsplit(ERASE_LINE, 1)[1]


def test_a_long_stage_leaves_one_plain_line_on_a_pipe(monkeypatch: pytest.MonkeyPatch) -> None:
    import cardpilot.cli.progress as module

    monkeypatch.setattr(module, "PLAIN_AFTER_SECONDS", 0.0)
    pipe = io.StringIO()
    stages = StageBar(Console(file=pipe, width=80))
    with progress.reporting(stages):
        progress.stage("GBM: 5 folds × 3 seeds", 15)
        progress.advance(15)
    stages.close()
    assert pipe.getvalue().startswith("GBM: 5 folds × 3 seeds: 15 steps done in ")
    assert "\x1b" not in pipe.getvalue()


def _piped(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    cli = Path(sys.executable).with_name("cardpilot")
    return subprocess.run(
        [str(cli), *args], capture_output=True, text=True, env=env, check=False, timeout=120
    )


def test_piped_tables_are_neither_wrapped_nor_cut_at_80_columns() -> None:
    listed = envelope_data(_piped("policy", "list", "--json").stdout)
    table = _piped("policy", "list")
    assert table.returncode == 0, table.stderr
    rows = [line for line in table.stdout.splitlines() if line.startswith("│")]
    assert len(rows) == len(listed["policies"])
    for entry, row in zip(listed["policies"], rows, strict=True):
        assert entry["name"] in row
        for file in entry["files"].values():
            assert file["recorded_version"] in row  # the whole version, on the entry's one line
    assert max(len(line) for line in table.stdout.splitlines()) > 80
    assert "…" not in table.stdout


def test_a_piped_error_is_one_line_however_long() -> None:
    failed = _piped("summary", "--database", "postgresql+asyncpg://someone@127.0.0.1/" + "x" * 90)
    assert failed.returncode == 2
    assert failed.stderr.count("\n") == 1
    assert len(failed.stderr) > 160


def test_stages_told_while_a_command_shows_its_own_bar_leave_that_bar_alone() -> None:
    terminal, screen = _terminal()
    stages = StageBar(terminal)
    with bar(terminal) as own, progress.reporting(stages):
        own.add_task("review", total=10)
        progress.stage("scoring accounts", 10)
        progress.advance(5)
    stages.close()
    assert "review" in screen.getvalue()
