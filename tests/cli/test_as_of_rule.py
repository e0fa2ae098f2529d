"""One ``--as-of`` rule over the whole command tree: the same parsing, the same default, said
the same way in every help."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from cardpilot.cli import app
from cardpilot.cli.as_of import AS_OF_DEFAULT, AS_OF_TODAY, TODAY_COMMANDS, check_as_of
from cardpilot.cli.conventions import nodes
from cardpilot.cli.i18n import catalogue

TREE = typer.main.get_command(app)


def _as_of(command: Any) -> Any:
    return next((p for p in command.params if "--as-of" in getattr(p, "opts", ())), None)


WITH_AS_OF = [(path, _as_of(cmd)) for path, cmd in nodes(TREE) if _as_of(cmd) is not None]


def test_the_commands_that_work_as_of_a_day_take_as_of() -> None:
    paths = {path for path, _ in WITH_AS_OF}
    assert {
        ("review",),
        ("aging",),
        ("overdue", "treat"),
        ("overdue", "remind"),
        ("overdue", "report"),
        ("account", "show"),
        ("plan", "advance"),
        ("segments", "cluster"),
    } <= paths


@pytest.mark.parametrize(("path", "option"), WITH_AS_OF, ids=[" ".join(p) for p, _ in WITH_AS_OF])
def test_every_as_of_is_optional_parsed_by_the_one_check_and_says_the_one_default(
    path: tuple[str, ...], option: Any
) -> None:
    assert not option.required, f"{path}: --as-of has the one default, it is never required"
    assert option.default is None
    assert option.callback is check_as_of
    assert option.metavar == "DATE"
    rule = AS_OF_TODAY if path in TODAY_COMMANDS else AS_OF_DEFAULT
    said = [rule, catalogue("zh-CN").messages[rule]]  # the tree is built in en or zh-CN
    assert any(option.help.endswith(r) for r in said), option.help
    own = option.help
    for r in said:
        own = own.removesuffix(r)
    assert "default" not in own, f"{path}: a second default"
    assert "默认" not in own, f"{path}: a second default"


@pytest.mark.parametrize("path", [p for p, _ in WITH_AS_OF], ids=" ".join)
def test_a_bad_as_of_is_one_error_line_naming_the_format_before_any_work(
    path: tuple[str, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cardpilot.config import get_settings

    monkeypatch.setenv("CARDPILOT_HOME", str(tmp_path))
    monkeypatch.setenv("CARDPILOT_DATABASE_URL", f"sqlite:///{tmp_path / 'none.db'}")
    monkeypatch.setenv("CARDPILOT_LOCALE", "en")  # test_zh_cn.py: the same line in zh-CN
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, [*path, "--as-of", "2005/10/01"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2, result.output
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert errors == ["error: --as-of '2005/10/01': give a date as YYYY-MM-DD"], result.output
    assert not (tmp_path / "none.db").exists()
