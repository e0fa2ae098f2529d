"""Every expected failure is one ``error:`` line and a non-zero exit; ``--debug`` shows more."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cardpilot.cli import app
from cardpilot.config import get_settings


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CARDPILOT_HOME", str(tmp_path / "home"))
    for name in ("CARDPILOT_DATABASE_URL", "CARDPILOT_CONFIG", "CARDPILOT_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    # The wording checked here is the English one (test_zh_cn.py: the same errors in zh-CN).
    monkeypatch.setenv("CARDPILOT_LOCALE", "en")
    get_settings.cache_clear()
    yield tmp_path / "home"
    get_settings.cache_clear()


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def _one_error_line(code: int, output: str, *fragments: str) -> None:
    assert code == 2, output
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    assert lines[0].startswith("error: "), output
    assert "Traceback" not in output
    for fragment in fragments:
        assert fragment in lines[0], output


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_string_that_is_not_a_url_is_one_line_naming_the_forms_to_use() -> None:
    _one_error_line(*_run("summary", "--database", "notaurl"), "notaurl", "sqlite:///")


def test_an_unsupported_database_is_one_line() -> None:
    _one_error_line(*_run("summary", "--database", "mysql://u@h/db"), "mysql", "not supported")


def test_a_missing_driver_is_one_line_naming_the_driver() -> None:
    url = "postgresql+asyncpg://u@127.0.0.1/x"
    _one_error_line(*_run("summary", "--database", url), "asyncpg", "not installed")


def test_a_postgresql_server_that_is_down_is_one_line() -> None:
    url = f"postgresql://postgres@127.0.0.1:{_closed_port()}/postgres"
    _one_error_line(*_run("summary", "--database", url), "cannot reach the store", "server runs")


def test_a_read_only_command_refuses_a_store_that_does_not_exist(tmp_path: Path) -> None:
    where = tmp_path / "no" / "such" / "dir" / "x.db"
    code, output = _run("summary", "--database", f"sqlite:///{where}")
    _one_error_line(code, output, "no cardpilot store", "cardpilot import")
    assert not (tmp_path / "no").exists()


def test_reports_refuse_a_store_that_does_not_exist(home: Path, tmp_path: Path) -> None:
    _one_error_line(*_run("aging", "--as-of", "2005-10-01"), "no cardpilot store")
    out = str(tmp_path / "r.html")
    _one_error_line(*_run("overdue", "report", "--out", out), "no cardpilot store")
    _one_error_line(*_run("fairness", "report"), "no cardpilot store")
    assert not (home / "cardpilot.db").exists()


def test_a_database_without_a_store_is_refused_on_both_backends(store_url: str) -> None:
    _one_error_line(*_run("summary", "--database", store_url), "no cardpilot store")


def test_a_bad_log_level_in_the_environment_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARDPILOT_LOG_LEVEL", "LOUD")
    _one_error_line(*_run("summary"), "CARDPILOT_LOG_LEVEL", "LOUD", "WARNING")


def test_a_bad_value_in_the_config_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "cardpilot.toml").write_text('[cardpilot]\nlog_level = "LOUD"\n')
    _one_error_line(*_run("summary"), "log_level", "cardpilot.toml")


def test_an_unknown_key_in_the_config_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "cardpilot.toml").write_text('[cardpilot]\ndatabase = "sqlite:///x.db"\n')
    _one_error_line(*_run("summary"), "unknown key(s) database", "database_url")


def test_a_config_file_that_is_not_toml_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "cardpilot.toml").write_text("log_level = \n")
    _one_error_line(*_run("summary"), "cannot read it as TOML")


def test_a_missing_config_file_is_an_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CARDPILOT_CONFIG", str(tmp_path / "nope.toml"))
    _one_error_line(*_run("summary"), "CARDPILOT_CONFIG", "nope.toml")


def test_a_file_that_cannot_be_read_is_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "accounts.csv"
    _one_error_line(*_run("import", "--format", "uci", str(missing)), "accounts.csv")


def test_a_negative_principal_is_one_line_in_major_units() -> None:
    code, output = _run("plan", "quote", "--principal", "-5", "--months", "3")
    _one_error_line(code, output, "-5.00", "major units")
    assert "fen" not in output


def test_debug_shows_the_traceback_of_an_expected_failure() -> None:
    result = CliRunner().invoke(app, ["--debug", "summary", "--database", "notaurl"])
    assert result.exit_code != 0
    assert type(result.exception).__name__ == "StoreURLError"


def test_an_internal_fault_is_one_line_that_points_at_debug(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import cardpilot.cli.summary as summary

    def broken(_engine: object) -> None:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(summary, "open_engine", lambda _db: None)
    monkeypatch.setattr(summary, "summarise_portfolio", broken)
    code, output = _run("summary")
    assert code == 1, output
    assert output.startswith("error: ZeroDivisionError: division by zero")
    assert "--debug" in output
    assert "Traceback" not in output
